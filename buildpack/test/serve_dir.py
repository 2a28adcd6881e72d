"""Serves a folder over HTTP on 127.0.0.1 (a local release server). Prints `port=N` once listening."""
import functools
import http.server
import sys


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


handler = functools.partial(Quiet, directory=sys.argv[1])
server = http.server.HTTPServer(("127.0.0.1", 0), handler)
print(f"port={server.server_address[1]}", flush=True)
server.serve_forever()
