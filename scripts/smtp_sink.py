"""The local SMTP server of `make run` and of the mail benches: aiosmtpd (Debian
python3-aiosmtpd) on 127.0.0.1:PORT writing every accepted mail into the Maildir DIR (DIR/tmp,
then renamed into DIR/new: read it with `mutt -f DIR`).
By default the file holds the bytes as received, after the X-Peer, X-MailFrom and X-RcptTo
headers aiosmtpd's Mailbox handler adds; --mailbox uses that handler itself
(aiosmtpd.handlers.Mailbox, as `python3 -m aiosmtpd -c aiosmtpd.handlers.Mailbox DIR`), which
parses every message into an email.message object and serialises it again: measured 1.5-2.4 ms
of CPU per mail against 0.4 ms for the raw file (docs/notification.md "Event to mail latency and
CPU per mail").
--discard (benches only): each mail is received and answered like any other (250 after DATA)
but written nowhere, to measure the client alone.
--uvloop: uvloop's event loop (Debian python3-uvloop, when installed): about 20 % less CPU per
mail than asyncio's, not needed.
Usage: /usr/bin/python3 scripts/smtp_sink.py PORT DIR [--mailbox | --discard] [--uvloop]
       (runs until SIGTERM or SIGINT)"""
import asyncio
import os
import signal
import socket
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


class RawMaildir:
    """Maildir delivery of the bytes as received (with the X-Peer, X-MailFrom and X-RcptTo
    headers the Mailbox handler adds), without parsing the message into an email.message object
    and serialising it again as aiosmtpd.handlers.Mailbox does: a file in DIR/tmp renamed into
    DIR/new, the Maildir protocol."""

    def __init__(self, maildir):
        self.dir = maildir
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        self.seq = 0

    async def handle_DATA(self, server, session, envelope):
        self.seq += 1
        name = f"{time.time():.6f}.{os.getpid()}_{self.seq}.{socket.gethostname()}"
        head = (f"X-Peer: {session.peer[0]}\r\nX-MailFrom: {envelope.mail_from}\r\n"
                f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        tmp = os.path.join(self.dir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.dir, "new", name))
        return "250 OK"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 2 or flags - {"--discard", "--mailbox", "--uvloop"}:
        sys.exit("usage: smtp_sink.py PORT DIR [--mailbox | --discard] [--uvloop]")
    port, maildir = int(args[0]), args[1]
    loop_name = "asyncio"
    if "--uvloop" in flags:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    handler = (Discard() if "--discard" in flags
               else Mailbox(maildir) if "--mailbox" in flags else RawMaildir(maildir))
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp_sink: 127.0.0.1:{port}, {loop_name}, "
          f"{'discard' if '--discard' in flags else 'Maildir ' + maildir}"
          f"{' (Mailbox handler)' if '--mailbox' in flags else ''}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.2)
    controller.stop()


main()
