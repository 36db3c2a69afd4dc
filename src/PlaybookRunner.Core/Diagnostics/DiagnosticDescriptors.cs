namespace PlaybookRunner.Core.Diagnostics;

/// <summary>
/// The catalogue of every diagnostic PlaybookRunner reports. IDs are stable and never reused;
/// <c>docs/diagnostics.md</c> lists the same entries (a test keeps the two in step).
/// </summary>
public static class DiagnosticDescriptors
{
    private const string Yaml = "Playbook";
    private const string Condition = "Condition";
    private const string Template = "Template";
    private const string Source = "Source";
    private const string Evaluation = "Evaluation";
    private const string Usage = "Usage";
    private const string Tests = "Tests";
    private const string Internal = "Internal";

    private static DiagnosticDescriptor Error(string id, string title, string format, string category, string help) =>
        new(id, title, format, category, DiagnosticSeverity.Error, help);

    private static DiagnosticDescriptor Warning(string id, string title, string format, string category, string help) =>
        new(id, title, format, category, DiagnosticSeverity.Warning, help);

    // PB0xxx: PlaybookRunner itself.
    public static readonly DiagnosticDescriptor InternalError = Error("PB0001", "Internal error", "internal error: {0}: {1}", Internal,
        "A bug in PlaybookRunner, not in the playbooks: bad input is always a diagnostic of its own. Report it with the command that gave it.");

    // PB1xxx: files, YAML and the schema.
    public static readonly DiagnosticDescriptor YamlSyntax = Error("PB1001", "YAML syntax error", "{0}", Yaml,
        "The file is not well-formed YAML. Fix the syntax at the reported position.");
    public static readonly DiagnosticDescriptor UnknownKey = Error("PB1002", "Unknown key", "Unknown key '{0}' in {1}{2}", Yaml,
        "Unknown keys are errors so that a typo cannot silently disable a rule.");
    public static readonly DiagnosticDescriptor MissingKey = Error("PB1003", "Missing required key", "Missing required key '{0}' in {1}", Yaml,
        "Add the key; see the schema in schema/ for what each object requires.");
    public static readonly DiagnosticDescriptor WrongType = Error("PB1004", "Value has the wrong type", "Expected {0} for {1} but found {2}", Yaml,
        "The value's YAML type does not match the schema (for example a list where a mapping is expected).");
    public static readonly DiagnosticDescriptor PatternMismatch = Error("PB1005", "Value has the wrong form", "'{0}' is not a valid {1}: {2}", Yaml,
        "Ids are lowercase letters, digits and '-'; names are C# identifiers; types are the field types of docs/language.md (string, int, long, decimal, double, bool, date, datetime, string[], each with ? for nullable).");
    public static readonly DiagnosticDescriptor NotInEnum = Error("PB1006", "Value is not one of the allowed values", "'{0}' is not allowed for {1}; expected one of: {2}", Yaml,
        "Use one of the listed values.");
    public static readonly DiagnosticDescriptor DuplicateKey = Error("PB1007", "Duplicate key", "Duplicate key '{0}' (first defined at line {1})", Yaml,
        "A mapping may define each key once.");
    public static readonly DiagnosticDescriptor InputLimit = Error("PB1008", "Input exceeds a limit", "{0}", Yaml,
        "Playbook files are limited in size, nesting depth and alias use to keep the loader safe on hostile input.");
    public static readonly DiagnosticDescriptor DuplicatePlaybook = Error("PB1009", "Duplicate playbook id", "Playbook id '{0}' is already used by {1}", Yaml,
        "Playbook ids are unique in the workspace.");
    public static readonly DiagnosticDescriptor DuplicateRule = Error("PB1010", "Duplicate rule id", "Rule id '{0}' is already used in this playbook (line {1})", Yaml,
        "Rule ids are unique within a playbook.");
    public static readonly DiagnosticDescriptor BadDuration = Error("PB1011", "Invalid duration", "'{0}' is not a valid duration: use a number with h, d, w, mo or y (30d, 6mo) or ISO 8601 (P6M)", Yaml,
        "Durations are 12h, 30d, 2w, 6mo, 1y or ISO 8601 such as P6M or PT12H.");
    public static readonly DiagnosticDescriptor BadCron = Error("PB1012", "Invalid cron expression", "'{0}' is not a valid cron expression: {1}", Yaml,
        "Schedules are cron expressions with 5 fields (minute hour day-of-month month day-of-week), 6 (seconds first), or a macro: @hourly, @daily, @midnight, @weekly, @monthly, @yearly. A year field is not supported.");
    public static readonly DiagnosticDescriptor BadTimeZone = Error("PB1013", "Unknown time zone", "'{0}' is not a known IANA time zone{1}", Yaml,
        "Use an IANA zone id such as Europe/London or America/New_York.");
    public static readonly DiagnosticDescriptor EmptyDocument = Error("PB1014", "Empty or multi-document file", "{0}", Yaml,
        "Each playbook file holds exactly one YAML document.");
    public static readonly DiagnosticDescriptor TooShort = Error("PB1015", "Value is empty", "{0} must not be empty", Yaml,
        "Give the key a value.");
    public static readonly DiagnosticDescriptor TooFewItems = Error("PB1016", "Too few items", "{0} needs at least {1} item(s)", Yaml,
        "A playbook needs at least one rule.");
    public static readonly DiagnosticDescriptor NameClash = Error("PB1017", "Name clash", "'{0}' clashes with {1}", Yaml,
        "Fields, let values and segments share one namespace in conditions and templates; names starting with '__' are reserved.");
    public static readonly DiagnosticDescriptor FileRead = Error("PB1018", "Cannot read file", "Cannot read {0}: {1}", Yaml,
        "Check that the path exists and is readable.");
    public static readonly DiagnosticDescriptor NoPlaybooks = Error("PB1019", "No playbooks found", "No playbooks found in {0}", Usage,
        "Point the command at a playbook file or a folder holding *.yaml playbooks.");
    public static readonly DiagnosticDescriptor UnknownChannel = Error("PB1020", "Unknown channel", "Channel '{0}' is not defined in runner.yaml{1}", Yaml,
        "Email and webhook actions name a channel from runner.yaml's channels:.");
    public static readonly DiagnosticDescriptor ChannelKind = Error("PB1021", "Channel of the wrong kind", "Channel '{0}' has kind {1}; {2} actions need a channel of kind {3}", Yaml,
        "Email actions use smtp channels; webhook actions use webhook channels.");
    public static readonly DiagnosticDescriptor WebhookTarget = Error("PB1022", "Webhook needs one target", "A webhook action needs exactly one of 'channel' or 'url'", Yaml,
        "Name a channel from runner.yaml, or give a url.");
    public static readonly DiagnosticDescriptor MissingEnv = Error("PB1023", "Environment variable not set", "Environment variable '{0}' is not set", Yaml,
        "Secrets are read from the environment through ${env:NAME}; set the variable before running.");
    public static readonly DiagnosticDescriptor ExpiredSuppression = Warning("PB1025", "Expired suppression", "Suppression of '{0}'{1} expired on {2}", Yaml,
        "Remove the suppression, or extend until: if the reason still holds.");
    public static readonly DiagnosticDescriptor DanglingSuppression = Warning("PB1026", "Suppression of nothing", "Suppression names '{0}', which is not a rule of any playbook here{1}", Yaml,
        "The rule was renamed or removed; fix or delete the suppression.");
    public static readonly DiagnosticDescriptor StateStore = Error("PB1027", "State store problem", "State store {0}: {1}", Yaml,
        "The state store could not be opened or written; check the path and permissions, or the state: settings.");
    public static readonly DiagnosticDescriptor BadBaseline = Error("PB1028", "Bad baseline plan", "Baseline plan: {0}", Usage,
        "plan --baseline reads a plan written by plan --format json (for example from the main branch).");
    public static readonly DiagnosticDescriptor NotFound = Error("PB1029", "Rule or record not found", "{0}", Usage,
        "explain takes a rule as playbook/rule (or rule, when only one playbook has it) and a key of that playbook's source.");
    public static readonly DiagnosticDescriptor PathOutside = Error("PB1030", "Path outside the workspace", "{0}", Yaml,
        "A workspace may only name files inside its root: the top of the git repository that holds runner.yaml, or runner.yaml's folder and the folders named on the command line. The operator can allow more folders with PLAYBOOK_ALLOWED_ROOTS.");
    public static readonly DiagnosticDescriptor PluginFolderNotAllowed = Error("PB1031", "Plugin folder not allowed", "Plugin folder '{0}' is not allowed: plugins load from the tool's own plugins folder and from folders the operator names in {1}", Yaml,
        "A workspace cannot make the tool load code: list the folder in PLAYBOOK_PLUGIN_FOLDERS (the operator's decision), or install the plugin into the tool's plugins folder.");
    public static readonly DiagnosticDescriptor SecretOutsideCredential = Error("PB1032", "Secret outside a credential field", "'${{env:{0}}}' is not allowed in '{1}': environment variables go in credential fields only (connection, token, password, user, username, headers)", Yaml,
        "A secret in a URL, path, query or template would travel where its credential does not: put it in a header or a credential field.");
    public static readonly DiagnosticDescriptor EnvNotAllowed = Error("PB1033", "Environment variable not allowed", "Environment variable '{0}' is not allowed for this workspace: the operator allows variables with PLAYBOOK_ALLOWED_ENV", Yaml,
        "Which environment variables a workspace may read is the operator's decision, not the workspace's: list the name (or a prefix ending in *) in PLAYBOOK_ALLOWED_ENV.");
    public static readonly DiagnosticDescriptor SecretDestination = Error("PB1034", "Secret sent to a host it is not allowed for", "'{0}' may only be sent to {1}; this {2} would send it to {3}", Yaml,
        "The operator binds a secret to its hosts in PLAYBOOK_ALLOWED_ENV (NAME@host): a changed URL, host or connection cannot carry it elsewhere.");
    public static readonly DiagnosticDescriptor LinkNotFollowed = Warning("PB1035", "Symbolic link not followed", "'{0}' is a symbolic link; links in a workspace are not followed (it could loop or lead outside): put the file itself here", Yaml,
        "Playbooks and folders are read where they are, never through a symbolic link.");
    public static readonly DiagnosticDescriptor BadSavedPlan = Error("PB1036", "Bad saved plan", "Saved plan: {0}", Usage,
        "run --plan executes a plan written by plan --format json --out FILE with this version of PlaybookRunner.");
    public static readonly DiagnosticDescriptor StalePlan = Error("PB1037", "Saved plan does not match", "Saved plan: {0}; nothing was executed: plan again and review the new plan", Usage,
        "A saved plan is executed only against the workspace it was made from (every file's digest) by the same engine version.");
    public static readonly DiagnosticDescriptor PlanDataChanged = Warning("PB1038", "Source changed since the plan", "Saved plan: source '{0}' changed since the plan was made; the plan's actions are executed as they were reviewed", Usage,
        "The reviewed actions run whatever the data says now; plan again if the change matters.");
    public static readonly DiagnosticDescriptor UnknownRunRule = Error("PB1039", "Unknown rule", "--rule '{0}': no such rule in the workspace{1}", Usage,
        "Name a rule as playbook/rule, or by its id when only one playbook has it.");
    public static readonly DiagnosticDescriptor BadInvocation = Error("PB1024", "Bad command-line value", "{0}", Usage,
        "See 'playbook --help'.");
    public static readonly DiagnosticDescriptor FileWrite = Error("PB1040", "Cannot write file", "Cannot write {0}: {1}", Usage,
        "An output of the command (--out, --junit, init's files) could not be written: check the folder exists and may be written.");
    public static readonly DiagnosticDescriptor SuppressionNotChanged = Error("PB1041", "Suppressions not changed", "suppressions.yaml was not changed: {0}", Usage,
        "playbook suppress and unsuppress edit suppressions.yaml for review in git; they refuse an unknown rule, a date in the past, an empty or multi-line reason, and a file they cannot edit as text.");

    public static readonly DiagnosticDescriptor BadInhibits = Error("PB1042", "Rule in inhibits not found", "Rule '{0}' inhibits '{1}', which is {2}", Yaml,
        "inhibits: lists rules of the same playbook that this rule silences for a customer while it fires for them (the escalation silences the reminder); see docs/language.md.");
    public static readonly DiagnosticDescriptor BadOrderBy = Error("PB1044", "Unknown order_by", "order_by '{0}' of rule '{1}' is not a field of source '{2}' nor a computed value{3}", Yaml,
        "A throttle's order_by names a field of the playbook's source or a computed value (values:), then optionally asc or desc: order_by: revenue desc. Compute anything else as a value first.");
    public static readonly DiagnosticDescriptor UnknownDigest = Error("PB1045", "Unknown digest", "Rule '{0}' joins digest '{1}', which runner.yaml does not define{2}", Yaml,
        "A rule's digests: names digests defined in runner.yaml under digests:, each with a group_by and an action.");
    public static readonly DiagnosticDescriptor EmailBodyConflict = Error("PB1043", "Two HTML bodies", "An email action with html_body has an HTML part already: its body is the plain-text part, so html: true contradicts it", Yaml,
        "For a multipart email, write the plain text in body and the HTML in html_body, without html: true; for an HTML-only email, write it in body with html: true.");

    // PB2xxx: C# conditions.
    public static readonly DiagnosticDescriptor CSharpError = Error("PB2001", "C# error in an expression", "{0}", Condition,
        "The expression does not compile. Fields, segments and let values are in scope by name; see docs/language.md.");
    public static readonly DiagnosticDescriptor Forbidden = Error("PB2002", "API not allowed in expressions", "'{0}' is not allowed in playbook expressions{1}", Condition,
        "Expressions see only the record and a safe allow-list (strings, maths, dates, LINQ, regular expressions). Files, network, processes, reflection, threading, environment, dynamic and unsafe code are rejected.");
    public static readonly DiagnosticDescriptor NotAnExpression = Error("PB2003", "Not a single expression", "{0}", Condition,
        "when, segments and let values are single C# expressions: no statements, directives or trailing code.");
    public static readonly DiagnosticDescriptor NotBool = Error("PB2004", "Condition is not bool", "{0} must be a bool expression, but this is '{1}'", Condition,
        "A when or segment expression must evaluate to true or false.");
    public static readonly DiagnosticDescriptor UnknownRuleRef = Error("PB2005", "Unknown rule in LastFired", "LastFired names '{0}', which is not a rule of playbook '{1}'", Condition,
        "LastFired(\"rule-id\") takes the id of a rule of the same playbook, as a string literal.");
    public static readonly DiagnosticDescriptor LetType = Error("PB2007", "let or computed value of the wrong type", "{0} must be a number, bool, text or date/time value, but this is '{1}'", Condition,
        "let values are computed once and shared, and computed values (values:) once per customer, then shown by explain and the plan: aggregate a list into a single value, e.g. Count(...) or Max(...).");
    public static readonly DiagnosticDescriptor ExpressionTooLarge = Error("PB2008", "Expression too large", "{0}", Condition,
        "An expression may have at most 10,000 characters, 2,000 tokens, nesting 100 deep and lambdas 3 deep, so that no expression can exhaust the compiler; compute parts in segments or let values.");
    public static readonly DiagnosticDescriptor InternalCompile = Error("PB2006", "Internal compiler error", "Internal error while compiling playbooks: {0}", Condition,
        "This is a PlaybookRunner bug; please report it with the playbook that caused it.");

    // PB3xxx: Scriban templates.
    public static readonly DiagnosticDescriptor TemplateSyntax = Error("PB3001", "Template syntax error", "{0}", Template,
        "The Scriban template does not parse.");
    public static readonly DiagnosticDescriptor TemplateUnknownName = Error("PB3002", "Unknown name in template", "Unknown variable or function '{0}' in template{1}", Template,
        "Templates see the record's fields, segments, let values, rule, playbook, now and the helpers days_since, months_since, money, json_escape, html_escape, raw.");
    public static readonly DiagnosticDescriptor TemplateUnknownMember = Error("PB3003", "Unknown member in template", "'{0}' has no member '{1}'{2}", Template,
        "rule has id, title and severity; playbook has id and title.");

    public static readonly DiagnosticDescriptor TemplateForbidden = Error("PB3004", "Template function not allowed", "'{0}' is not available in templates{1}", Template,
        "Templates cannot evaluate text as a template or read the clock; use now, the evaluation instant.");
    public static readonly DiagnosticDescriptor UrlHostFromData = Error("PB3005", "URL host from data", "A webhook url must fix its scheme, host and port before its first template value: '{0}'", Template,
        "Write 'https://host[:port]/' literally; values from the data may only fill the path, query or fragment, where they are percent-encoded.");
    public static readonly DiagnosticDescriptor ActionFieldInvalid = Error("PB3006", "Action field invalid", "{0}", Template,
        "A field written without template values is checked as run would use it: a webhook body must be JSON, a webhook url an absolute http or https URL, each recipient one email address.");

    // PB4xxx: sources and data.
    public static readonly DiagnosticDescriptor UnknownSource = Error("PB4001", "Unknown source", "Source '{0}' is not defined{1}", Source,
        "Name a source from runner.yaml's sources:, or define the source inline.");
    public static readonly DiagnosticDescriptor UnknownSourceKind = Error("PB4002", "Source kind not available", "Source kind '{0}' is not available; built-in kinds here: {1}", Source,
        "Use a built-in kind, or install the plugin that provides this kind.");
    public static readonly DiagnosticDescriptor BadKeyField = Error("PB4003", "Key is not a field", "Key '{0}' is not a declared field of source '{1}'", Source,
        "The key names one of the declared fields.");
    public static readonly DiagnosticDescriptor DataFileMissing = Error("PB4004", "Data file not found", "Data file '{0}' of source '{1}' was not found", Source,
        "Paths are relative to the YAML file that declares the source.");
    public static readonly DiagnosticDescriptor MissingColumn = Error("PB4005", "Column not in data", "Column '{0}' for field '{1}' is not in the header of {2}", Source,
        "Each declared field reads the column of the same name, or the one named by column:.");
    public static readonly DiagnosticDescriptor BadRow = Error("PB4006", "Bad row", "Row {0}, column {1} ({2}): field '{3}' ({4}) {5}", Source,
        "A missing value in a field without '?', or a value that does not parse. Fix the data, declare the field with '?', or set on_bad_row: skip.");
    public static readonly DiagnosticDescriptor SkippedRow = Warning("PB4007", "Row skipped", "Skipped row {0}, column {1} ({2}): field '{3}' ({4}) {5}", Source,
        "on_bad_row: skip reports every row it skips.");
    public static readonly DiagnosticDescriptor DuplicateRecordKey = Error("PB4008", "Duplicate key in data", "{0}: key '{1}' already appeared at {2}", Source,
        "The key field identifies a record and must be unique.");
    public static readonly DiagnosticDescriptor DataRead = Error("PB4009", "Cannot read data", "Cannot read data of source '{0}': {1}", Source,
        "The data file could not be read or is not valid for its kind.");
    public static readonly DiagnosticDescriptor NoSourcesFile = Error("PB4010", "No runner.yaml", "Source '{0}' is referenced by name but there is no runner.yaml beside the playbooks", Source,
        "Create playbooks/runner.yaml with a sources: section, or define the source inline.");

    public static readonly DiagnosticDescriptor NullableKey = Error("PB4017", "Nullable key", "Key '{0}' of source '{1}' must not be nullable", Source,
        "Every record needs a key: declare the key field without '?'.");
    public static readonly DiagnosticDescriptor PluginLoad = Error("PB4011", "Plugin failed to load", "Plugin '{0}' could not be loaded: {1}", Source,
        "A plugin folder holds NAME/NAME.dll built against PlaybookRunner.Abstractions, with its own dependencies beside it.");
    public static readonly DiagnosticDescriptor BadOption = Error("PB4012", "Bad source option", "Source '{0}' ({1}): {2}", Source,
        "The source's kind does not accept this option value; see the kind's documentation.");
    public static readonly DiagnosticDescriptor PluginRead = Error("PB4013", "Source failed while reading", "Source '{0}' (kind {1}, {2}) failed while reading: {3}", Source,
        "The source or its plugin reported an error, or threw; the message says why.");
    public static readonly DiagnosticDescriptor BadRecord = Error("PB4014", "Bad record", "{0}: field '{1}' ({2}) {3}", Source,
        "A record from a non-CSV source has a missing or unreadable value in a declared field.");
    public static readonly DiagnosticDescriptor SkippedRecord = Warning("PB4015", "Record skipped", "Skipped {0}: field '{1}' ({2}) {3}", Source,
        "on_bad_row: skip reports every record it skips.");
    public static readonly DiagnosticDescriptor BadRelated = Error("PB4016", "Bad related source", "Related '{0}': {1}", Source,
        "related: attaches records of another named source whose key field matches this record's key.");

    public static readonly DiagnosticDescriptor MalformedRecord = Error("PB4019", "Malformed record", "{0}: {1}", Source,
        "A line of a JSON-lines file that is not a JSON object. Fix the line, or set on_bad_row: skip to skip (and report) it.");
    public static readonly DiagnosticDescriptor RaggedRow = Error("PB4018", "Row with the wrong number of cells", "Row {0} has {1} cells but the header has {2}{3}", Source,
        "Every CSV row needs exactly as many cells as the header: a missing or extra delimiter shifts every value after it. Fix the row, or set on_bad_row: skip to skip (and report) it.");
    // PB5xxx: evaluation and rendering (reported per finding in plan output).
    public static readonly DiagnosticDescriptor ConditionThrew = Error("PB5001", "Expression threw", "{0} threw for key '{1}': {2}", Evaluation,
        "The expression failed for one record; other rules and records still ran.");
    public static readonly DiagnosticDescriptor TemplateFailed = Error("PB5002", "Template failed to render", "Template of {0} failed for key '{1}': {2}", Evaluation,
        "Rendering failed for one finding (a null value, a limit, invalid JSON); other findings still rendered.");
    public static readonly DiagnosticDescriptor ActionFailed = Error("PB5004", "Action failed", "{0} {1} action for key '{2}' failed: {3}", Evaluation,
        "Permanent failures and exhausted retries are kept as dead letters; see playbook history --failed.");
    public static readonly DiagnosticDescriptor BudgetExceeded = Error("PB5003", "Evaluation budget exceeded", "Evaluation of playbook '{0}' exceeded its time budget of {1} ms at key '{2}', in {3}; stopped", Evaluation,
        "Conditions must be cheap; a playbook that runs past the budget (execution: evaluation_budget_ms, default 60000) is stopped there and reported.");
    public static readonly DiagnosticDescriptor MemoryExceeded = Error("PB5007", "Evaluation memory limit exceeded", "Evaluation of playbook '{0}' allocated more than {1} MB for key '{2}', in {3}; stopped", Evaluation,
        "One record's conditions may allocate at most 512 MB (a let, computed over the whole population, 256 bytes more per record), and the daemon's evaluation worker holds at most execution: worker_memory_mb (default 2048); an expression that builds huge collections or strings is stopped there and reported.");
    public static readonly DiagnosticDescriptor TooManyActions = Warning("PB5005", "More actions than the limit", "{0} would execute {1} actions, more than {2}", Evaluation,
        "A blast-radius guard: max_actions in the playbook or --max-actions on the command line. Check the edit; raise the limit if the volume is intended. plan warns, run refuses.");
    public static readonly DiagnosticDescriptor RunRefused = Error("PB5006", "Run refused: too many actions", "{0} would execute {1} actions, more than {2}; nothing was executed", Evaluation,
        "run executes nothing when a playbook (max_actions) or the whole run (--max-actions) exceeds its limit. Check the plan first; raise the limit if the volume is intended.");
    public static readonly DiagnosticDescriptor ReloadCheckFailed = Error("PB5009", "Reload check failed", "Checking the edited playbooks in the evaluation worker failed: it {0}; the last good version keeps running", Evaluation,
        "The daemon loads and compiles every edit in a worker process before it takes it (it never compiles an unchecked change itself). Look at the worker's error in the daemon's log; the edit is tried again when a file changes.");
    public static readonly DiagnosticDescriptor HeldSincePlan = Warning("PB5011", "Held back since the plan", "{0} finding(s) of the saved plan are now held back by a cooldown or suppressed, and were not executed: {1}", Evaluation,
        "The rule fired for the customer after the plan was made, or a suppression now covers it; plan again to see the current state.");
    public static readonly DiagnosticDescriptor StoreBusy = Error("PB5012", "Another runner holds the store", "Another runner is executing against the state store: {0}; nothing was run (exit code 3)", Evaluation,
        "One run at a time per store, and none beside a working daemon: let it finish, stop the daemon, or let the daemon deliver. A runner that died is forgotten when its lease runs out.");
    public static readonly DiagnosticDescriptor StoreMissing = Error("PB5013", "State store missing", "The state store {0} does not exist (or is empty); nothing was run: without its history every customer would be contacted again as if for the first time", Evaluation,
        "If this is the first run against this store, run again with --create-store (the daemon too). If the store was deleted, emptied or moved, restore it from a backup or point state: at it; creating a new one re-contacts customers whose cooldowns it held.");
    public static readonly DiagnosticDescriptor StoreFailed = Error("PB5014", "State store failed while executing", "State store {0} failed: {1}; execution stopped", Evaluation,
        "Nothing is executed that cannot be recorded: each attempt is recorded before it is made. Fix the store (disk space, permissions, connection, a corrupt file: restore it) and run again; an action that may have been delivered is sent again with the same idempotency key.");
    public static readonly DiagnosticDescriptor ActionRetrying = Warning("PB5015", "Action failed transiently; retried later", "{0} {1} action for key '{2}' failed transiently: {3}; it stays pending and is attempted again from {4} (by the next run or the daemon) until {5}, then it is a dead letter", Evaluation,
        "Transient failures (timeouts, 5xx, 429, SMTP 4yz) are retried across runs until execution: retry_horizon_minutes (default 60) has passed since the first failure, with the same idempotency key. run exits 1 while an action is not delivered.");
    public static readonly DiagnosticDescriptor ChannelSecretUnset = Error("PB5010", "Channel secret unset", "Channel '{0}' needs the environment variable {1}, which is not set (or not allowed): {2} pending action(s) would fail", Evaluation,
        "Set the variable where plan and run execute, and allow it in PLAYBOOK_ALLOWED_ENV; in pull-request CI a placeholder value is enough, since plan sends nothing.");
    public static readonly DiagnosticDescriptor WorkerFailed = Error("PB5008", "Evaluation worker failed", "Evaluation worker of playbook '{0}' {1}; nothing was recorded for this tick", Evaluation,
        "The daemon evaluates each tick in a worker process that it kills past execution: worker_timeout_seconds (default 300); a worker that exits without a plan (out of memory outside any rule, a crash) records nothing either. The next tick runs as usual.");

    public static readonly DiagnosticDescriptor BadWorkerRequest = Error("PB5016", "Evaluation request not valid", "The evaluation request is not valid: {0}", Evaluation,
        "playbook __evaluate is the daemon's evaluation worker: it reads one request (a workspace snapshot, a playbook, its rules, an instant) from the daemon on standard input. Started by hand, it has no request to read.");

    public static readonly DiagnosticDescriptor SpillFailed = Error("PB5017", "Findings cannot be spilled", "A plan of more than {0} findings writes them to temporary files in '{1}', which failed: {2}", Evaluation,
        "Past that many findings a plan keeps them, rendered, in unlinked temporary files rather than in memory. Point TMPDIR at a writable folder with room for them (about the size of the JSON plan).");

    // PB6xxx: playbook tests.
    public static readonly DiagnosticDescriptor TestFailed = Error("PB6001", "Test expectation failed", "Test '{0}': {1}", Tests,
        "The playbook does not behave as the test expects: fix the playbook, or the test if the behaviour changed on purpose.");
    public static readonly DiagnosticDescriptor TestUnknownTarget = Error("PB6002", "Test names an unknown playbook or rule", "{0}", Tests,
        "A test's playbook, an expectation's rule and a history entry's rule must exist in the workspace.");
    public static readonly DiagnosticDescriptor TestBadRecord = Error("PB6003", "Bad test record", "{0}", Tests,
        "Test records use the source's declared fields, with values in the same form as in the data (dates as yyyy-MM-dd); nullable fields may be omitted.");
    public static readonly DiagnosticDescriptor NoTests = Error("PB6004", "No tests found", "No *.test.yaml files under {0}", Tests,
        "playbook test runs the *.test.yaml files beside the playbooks (docs/authoring.md).");
    public static readonly DiagnosticDescriptor BadInstant = Error("PB6005", "Not an instant", "'{0}' is not an ISO 8601 date or date-time", Tests,
        "Write as_of and history times as 2026-03-02 or 2026-03-02T09:00:00Z.");
    public static readonly DiagnosticDescriptor TestBadEntry = Error("PB6006", "Incomplete test entry", "{0}", Tests,
        "An expectation says fires: (the rule fires) or resolves: (its on_resolve runs), not both; a history entry says at: (a firing), held_since: (a hold that has not fired), or both.");

    /// <summary>Every descriptor, in ID order.</summary>
    public static IReadOnlyList<DiagnosticDescriptor> All { get; } =
    [
        .. typeof(DiagnosticDescriptors).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(DiagnosticDescriptor))
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .OrderBy(d => d.Id, StringComparer.Ordinal),
    ];
}
