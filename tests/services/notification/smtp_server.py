"""A real SMTP server for the notification tests: aiosmtpd (Debian python3-aiosmtpd) on
127.0.0.1:PORT writing every accepted message into the Maildir DIR, like `make run`'s
aiosmtpd.handlers.Mailbox, except that a recipient whose local part starts with "reject" is
refused with 550 (permanent) and one starting with "later" with 451 (transient), so the tests
exercise both delivery failure paths against a real server. With CERT and KEY (PEM files) it
offers STARTTLS with that certificate and requires it (530 to any mail in clear).
Usage: /usr/bin/python3 smtp_server.py PORT DIR [CERT KEY]   (runs until SIGTERM)"""
import logging
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("reject"):
            return "550 5.1.1 no such mailbox"
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    tls = {}
    if len(sys.argv) > 4:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        tls = {"tls_context": context, "require_starttls": True}
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)  # the refused handshakes
    controller = Controller(Handler(maildir), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.2)
    controller.stop()


main()
