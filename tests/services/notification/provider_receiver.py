"""A real HTTP receiver for the SMS and push provider tests: it plays the generic JSON SMS
provider, Twilio's Messages API and a push gateway (FCM HTTP v1 shape or generic JSON), and
appends one JSON line per request to LOG: {"path", "auth", "content_type", "body"}. It answers by
path: /sms/ok 200 {"id": "gen-<n>"}; /twilio/Messages.json 201 {"sid": "SM<n>"} when the basic
credentials are AUTH (argv[3]), else 401; /push/ok 200 {"name": "projects/test/messages/<n>"};
/e400, /e404, /e429, /e500 (also under /sms/ and /push/) that status; anything else 404.
Usage: /usr/bin/python3 provider_receiver.py PORT LOG AUTH   (runs until SIGTERM)"""
import base64
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, LOG, AUTH = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
COUNT = [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, doc=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with LOCK:
            COUNT[0] += 1
            n = COUNT[0]
            with open(LOG, "a") as f:
                f.write(json.dumps({"path": self.path,
                                    "auth": self.headers.get("Authorization", ""),
                                    "content_type": self.headers.get("Content-Type", ""),
                                    "body": body.decode("utf-8", "replace")}) + "\n")
        tail = self.path.rsplit("/", 1)[-1]
        if tail in ("e400", "e404", "e429", "e500"):
            self.answer(int(tail[1:]), {"error": "as asked"})
        elif self.path == "/sms/ok":
            self.answer(200, {"id": f"gen-{n}-{PORT}"})
        elif self.path == "/twilio/Messages.json":
            expected = "Basic " + base64.b64encode(AUTH.encode()).decode()
            if self.headers.get("Authorization", "") != expected:
                self.answer(401, {"code": 20003, "message": "Authenticate"})
            else:
                self.answer(201, {"sid": f"SM{n:08d}{PORT}", "status": "queued"})
        elif self.path == "/push/ok":
            self.answer(200, {"name": f"projects/test/messages/{n}-{PORT}"})
        else:
            self.answer(404, {"error": "no such path"})


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
