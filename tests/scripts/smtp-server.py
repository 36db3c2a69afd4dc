"""A real SMTP server for the tests (Debian's python3-aiosmtpd) on 127.0.0.1.

Usage: smtp-server.py OUTDIR PORT
Each accepted message is written to OUTDIR/NNNNN.eml, its envelope to OUTDIR/NNNNN.env. Recipients starting with 'reject' get
550 (permanent), those starting with 'busy' get 451 (transient). Prints 'ready' when listening;
stops when its standard input closes.
"""
import os
import sys

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable"
        if address.startswith("busy"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.out, "%05d.eml" % self.count)
        # The envelope (who the message is from and to, Bcc recipients included) beside it, written first.
        with open(path[:-4] + ".env", "w") as f:
            f.write("MAIL FROM: %s\n" % envelope.mail_from)
            for rcpt in envelope.rcpt_tos:
                f.write("RCPT TO: %s\n" % rcpt)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


def main():
    out, port = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    controller = Controller(Handler(out), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
