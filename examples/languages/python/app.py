"""An AppLink app in Python: a WSGI app on the standard library's wsgiref server (threaded),
with base64 and json, reading the request as a WSGI framework (Flask, Django) would.

Procfile: web: APP_PORT=3000 heroku-applink-service-mesh python3 app.py
It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
/slow answers with what this runtime read: method, client context, AppLink headers and query.
"""

import base64
import binascii
import json
import math
import os
import socketserver
import time
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# The methods Flask's method-override middleware recipe allows.
OVERRIDABLE = {"GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}


def say(line):
    print(f"app: {line}", flush=True)


def finite(value):
    """JSON has no Infinity or NaN, which json.loads reads (1e400, NaN): those floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    return [finite(item) for item in value] if isinstance(value, list) else value


def client_context(encoded):
    """Strict base64 (no stray characters, padding required), then JSON: {orgId, userId, version}."""
    if encoded is None:
        return {"orgId": None, "userId": None, "version": None}
    try:
        context = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError, RecursionError) as error:
        return {"orgId": None, "userId": None, "version": None, "error": f"{type(error).__name__}: {error}"}
    is_dict = isinstance(context, dict)
    user = context.get("userContext") if is_dict else None
    return {
        "orgId": context.get("orgId") if is_dict else None,
        "userId": user.get("userId") if isinstance(user, dict) else None,
        "version": context.get("version") if is_dict else None,
    }


def method(environ):
    """Flask's method-override recipe: the header, else the last query _method; on POST only."""
    real = environ["REQUEST_METHOD"].upper()  # as Werkzeug's and Django's request.method
    if real != "POST":
        return real
    override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE") or (
        parse_qs(environ.get("QUERY_STRING", "")).get("_method", [""])[-1]
    )
    return override.upper() if override.upper() in OVERRIDABLE else real


def reading(environ):
    query = parse_qs(environ.get("QUERY_STRING", ""))  # Django's QueryDict[key]: the last value
    primary = client_context(environ.get("HTTP_X_CLIENT_CONTEXT"))  # environ: HTTP_ + upper, - as _
    readings = [
        {"via": "environ['HTTP_X_CLIENT_CONTEXT']", **{k: v for k, v in primary.items() if k != "version"}},
        {  # the sidecar's decoded context headers, as WSGI names them
            "via": "environ['HTTP_X_APPLINK_ORG_ID']",
            "orgId": environ.get("HTTP_X_APPLINK_ORG_ID"),
            "userId": environ.get("HTTP_X_APPLINK_USER_ID"),
        },
    ]
    return {
        "language": "python",
        "method": method(environ),
        "requestId": environ.get("HTTP_X_REQUEST_ID"),
        "orgId": primary["orgId"],
        "userId": primary["userId"],
        "version": primary["version"],
        "readings": readings,
        "query": {"orgId": query.get("orgId", [None])[-1], "apiName": query.get("apiName", [None])[-1]},
    }


def app(environ, start_response):
    path = environ["PATH_INFO"]
    say(f"request {path}")
    if path == "/healthcheck":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if path == "/slow":
        ms = int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["1000"])[0])
        time.sleep(ms / 1000)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slow ok"]
    body = json.dumps(finite(reading(environ))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


# SIGTERM keeps its default disposition: the process ends with 143, as a plain server does.
server = make_server("127.0.0.1", int(os.environ.get("PORT", "3000")), app, Server, QuietHandler)
say(f"listening on {server.server_address[1]}")
server.serve_forever()
