"""An AppLink app in Python with the standard library only (http.server, base64, json).

Procfile: web: APP_PORT=3000 heroku-applink-service-mesh python3 app.py
It listens on $PORT, which the sidecar sets to the app's port.
"""

import base64
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def say(line):
    print(f"app: {line}", flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        say(f"request {url.path}")
        if url.path == "/healthcheck":
            return self.answer(200, "text/plain", b"ok")
        if url.path == "/slow":
            ms = int(parse_qs(url.query).get("ms", ["1000"])[0])
            time.sleep(ms / 1000)
            return self.answer(200, "text/plain", b"slow ok")
        # The header as the official SDK reads it; http.server's lookup ignores case.
        encoded = self.headers.get("X-Client-Context")
        if encoded is None:
            return self.answer(401, "text/plain", b"no client context")
        context = json.loads(base64.b64decode(encoded, validate=True))
        body = json.dumps({
            "language": "python",
            "orgId": context["orgId"],
            "userId": context["userContext"]["userId"],
            "requestId": self.headers.get("X-Request-Id"),
            "version": context.get("version"),
        }).encode()
        self.answer(200, "application/json", body)

    def answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "3000"))), Handler)
say(f"listening on {server.server_address[1]}")
sys.stdout.flush()
server.serve_forever()
