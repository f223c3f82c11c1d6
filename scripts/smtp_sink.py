"""The local SMTP server of `make run` and the mail benches: aiosmtpd (Debian python3-aiosmtpd)
on 127.0.0.1:PORT with its Maildir handler (aiosmtpd.handlers.Mailbox) writing every accepted
mail into DIR, exactly as `python3 -m aiosmtpd -c aiosmtpd.handlers.Mailbox DIR`, but on
uvloop's event loop (Debian python3-uvloop) when it is installed: the same server and handler,
less CPU per mail (docs/notification.md "Event to mail latency and CPU per mail").
--discard (benches only): the mail is received and answered like any other (250 after DATA)
but written nowhere, to measure the client without the Maildir's file writes.
--asyncio: the standard event loop even when uvloop is installed (A/B measurements).
Usage: /usr/bin/python3 scripts/smtp_sink.py PORT DIR [--discard] [--asyncio]
       (runs until SIGTERM or SIGINT)"""
import asyncio
import signal
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    if len(args) != 2 or flags - {"--discard", "--asyncio"}:
        sys.exit("usage: smtp_sink.py PORT DIR [--discard] [--asyncio]")
    port, maildir = int(args[0]), args[1]
    loop_name = "asyncio"
    if "--asyncio" not in flags:
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            loop_name = "uvloop"
        except ImportError:
            pass
    handler = Discard() if "--discard" in flags else Mailbox(maildir)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print(f"smtp_sink: 127.0.0.1:{port}, {loop_name}, "
          f"{'discard' if '--discard' in flags else 'Maildir ' + maildir}", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.2)
    controller.stop()


main()
