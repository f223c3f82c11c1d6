"""A real HTTP receiver for the webhook tests: verifies every request's Standard Webhooks
signature (webhook-id, webhook-timestamp within 5 minutes, webhook-signature: space-separated
"v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" with key = base64 after "whsec_"), comparing in
constant time, against each secret listed in SECRETS (one per line, re-read per request), and
appends one line per request to LOG: "<path> <verified|bad> <webhook-id> <signatures> <matched
secret indexes, comma-separated or ->". It answers by path: /ok 200, /e500 500, /e410 410,
/redirect 302 to /ok.
Usage: /usr/bin/python3 webhook_receiver.py PORT SECRETS LOG   (runs until SIGTERM)"""
import base64
import hashlib
import hmac
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SECRETS, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()


def matches(secret, msg_id, ts, body, sigs):
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = base64.b64encode(mac).decode()
    ok = False
    for s in sigs:
        version, _, value = s.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            ok = True
    return ok


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        ts = self.headers.get("webhook-timestamp", "")
        sigs = self.headers.get("webhook-signature", "").split(" ")
        try:
            with open(SECRETS) as f:
                secrets = [l.strip() for l in f if l.strip()]
        except OSError:
            secrets = []
        fresh = ts.isdigit() and abs(time.time() - int(ts)) <= 300
        hit = [str(i) for i, s in enumerate(secrets) if fresh and matches(s, msg_id, ts, body, sigs)]
        with LOCK, open(LOG, "a") as f:
            f.write(f"{self.path} {'verified' if hit else 'bad'} {msg_id} {len(sigs)} "
                    f"{','.join(hit) or '-'}\n")
        if self.path == "/ok":
            self.send_response(200)
        elif self.path == "/e500":
            self.send_response(500)
        elif self.path == "/e410":
            self.send_response(410)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
