// Opens each YAML file in the real yaml-language-server (the server behind the VS Code YAML
// extension and most editors) over stdio, and prints its diagnostics as one JSON line per file:
// {"file": ..., "diagnostics": [{"line": 1-based, "column": 1-based, "message": ...}]}.
// The schema comes from each file's own "# yaml-language-server: $schema=..." modeline.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const serverPath = require.resolve('yaml-language-server/bin/yaml-language-server');
const server = spawn(process.execPath, [serverPath, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const settings = { yaml: { validate: true, hover: false, completion: false, schemaStore: { enable: false }, schemas: {} } };

let buffer = Buffer.alloc(0);
let nextId = 1;
const pending = new Map();
const diagnostics = new Map();

function send(message) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...message }), 'utf8');
  server.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
  server.stdin.write(body);
}

function request(method, params) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((done) => pending.set(id, done));
}

server.stdout.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  for (;;) {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = Number(/Content-Length: (\d+)/i.exec(buffer.subarray(0, end).toString())[1]);
    if (buffer.length < end + 4 + length) return;
    const message = JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString('utf8'));
    buffer = buffer.subarray(end + 4 + length);
    if (message.id !== undefined && message.method === undefined) {
      pending.get(message.id)?.(message.result);
    } else if (message.method === 'workspace/configuration') {
      send({ id: message.id, result: message.params.items.map((item) => (item.section ? settings[item.section] ?? null : settings)) });
    } else if (message.id !== undefined) {
      send({ id: message.id, result: null });
    } else if (message.method === 'textDocument/publishDiagnostics') {
      diagnostics.set(message.params.uri, message.params.diagnostics);
    }
  }
});

const files = process.argv.slice(2).map((f) => resolve(f));
await request('initialize', { processId: process.pid, rootUri: null, capabilities: { workspace: { configuration: true } } });
send({ method: 'initialized', params: {} });
send({ method: 'workspace/didChangeConfiguration', params: { settings } });
for (const file of files) {
  const uri = pathToFileURL(file).href;
  send({ method: 'textDocument/didOpen', params: { textDocument: { uri, languageId: 'yaml', version: 1, text: readFileSync(file, 'utf8') } } });
}

// Validation is debounced: wait until every file has diagnostics and nothing changed for a while.
const deadline = Date.now() + 60000;
let last = '';
let stableSince = Date.now();
while (Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 250));
  const now = JSON.stringify([...diagnostics.entries()]);
  if (now !== last) { last = now; stableSince = Date.now(); }
  if (files.every((f) => diagnostics.has(pathToFileURL(f).href)) && Date.now() - stableSince > 1500) break;
}

for (const file of files) {
  const found = diagnostics.get(pathToFileURL(file).href);
  console.log(JSON.stringify({
    file,
    received: found !== undefined,
    diagnostics: (found ?? []).map((d) => ({ line: d.range.start.line + 1, column: d.range.start.character + 1, message: d.message })),
  }));
}

await request('shutdown', null);
send({ method: 'exit' });
server.kill();
process.exit(0);
