"""An AppLink app in Python with the official SDK (heroku-applink, requirements.txt): a WSGI app on
the standard library's wsgiref server (threaded), the SDK's IntegrationWsgiMiddleware wrapping the
Salesforce-facing routes only (docs/sdk-apps.md): /healthcheck and /slow stay outside it.

Procfile: web: APP_PORT=3000 heroku-applink-service-mesh python3 app.py
It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
/slow answers with what this runtime read: method, client context (by the SDK), AppLink headers
and query.
"""

import json
import math
import os
import socketserver
import time
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import heroku_applink
from heroku_applink import IntegrationWsgiMiddleware

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


def method(environ):
    """Flask's method-override recipe: the header, else the last query _method; on POST only."""
    real = environ["REQUEST_METHOD"].upper()  # as Werkzeug's and Django's request.method
    if real != "POST":
        return real
    override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE") or (
        parse_qs(environ.get("QUERY_STRING", "")).get("_method", [""])[-1]
    )
    return override.upper() if override.upper() in OVERRIDABLE else real


def reading_app(environ, start_response):
    """The Salesforce-facing routes: the SDK's middleware has set the client context (or failed)."""
    sdk = {"via": "heroku_applink.get_client_context()", "orgId": None, "userId": None}
    if "sdk.error" in environ:
        sdk["error"] = environ["sdk.error"]
    elif "sdk.absent" not in environ:
        context = heroku_applink.get_client_context()  # SDK: non-strict b64decode, then json.loads
        sdk.update(orgId=context.org.id, userId=context.org.user.id)
    query = parse_qs(environ.get("QUERY_STRING", ""))  # Django's QueryDict[key]: the last value
    body = json.dumps(finite({
        "language": "python-sdk",
        "method": method(environ),
        "requestId": environ.get("HTTP_X_REQUEST_ID"),
        "orgId": sdk["orgId"],
        "userId": sdk["userId"],
        "version": None,  # the SDK's ClientContext has no version member
        "readings": [
            sdk,
            {  # the sidecar's decoded context headers, as WSGI names them
                "via": "environ['HTTP_X_APPLINK_ORG_ID']",
                "orgId": environ.get("HTTP_X_APPLINK_ORG_ID"),
                "userId": environ.get("HTTP_X_APPLINK_USER_ID"),
            },
        ],
        "query": {"orgId": query.get("orgId", [None])[-1], "apiName": query.get("apiName", [None])[-1]},
    })).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


salesforce_app = IntegrationWsgiMiddleware(reading_app)


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
    if not environ.get("HTTP_X_CLIENT_CONTEXT"):
        # No context (a public route): nothing to read, as an app that checks before it asks.
        environ["sdk.absent"] = True
        return reading_app(environ, start_response)
    try:
        return salesforce_app(environ, start_response)
    except Exception as error:  # the middleware raises when the header is unreadable
        environ["sdk.error"] = f"{type(error).__name__}: {error}"
        return reading_app(environ, start_response)


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


# SIGTERM keeps its default disposition: the process ends with 143, as a plain server does.
server = make_server("127.0.0.1", int(os.environ.get("PORT", "3000")), app, Server, QuietHandler)
say(f"listening on {server.server_address[1]}")
server.serve_forever()
