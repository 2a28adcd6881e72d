"""A fake AppLink API for the buildpack's end-to-end test: 200 for an authentication call that
carries the expected bearer token, 401 otherwise. Prints `port=N` once listening on 127.0.0.1."""
import http.server
import sys

TOKEN = sys.argv[1]


class Api(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        length = int(self.headers.get("content-length", "0"))
        self.rfile.read(length)
        ok = self.path.endswith("/invocations/authentication") and self.headers.get(
            "authorization"
        ) == f"Bearer {TOKEN}"
        self.send_response(200 if ok else 401)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Api)
print(f"port={server.server_address[1]}", flush=True)
server.serve_forever()
