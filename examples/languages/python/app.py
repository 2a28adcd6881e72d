"""An AppLink app in Python: a WSGI app on the standard library's wsgiref server (threaded),
with base64 and json, reading the request as a WSGI framework (Flask, Django) would.

Procfile: web: APP_PORT=3000 heroku-applink-service-mesh python3 app.py
It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
/slow answers with what this runtime read: method, client context, AppLink headers and query.
With $HEROKU_APPLINK_MESH_ASSERTION_KEY set, every route first verifies the sidecar's signed
X-Applink-Assertion (a JWT, HS256) and answers 403 without a valid one.
"""

import base64
import binascii
import hashlib
import hmac
import json
import math
import os
import re
import socketserver
import time
from urllib.parse import parse_qs, unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# The methods Flask's method-override middleware recipe allows.
OVERRIDABLE = {"GET", "HEAD", "POST", "DELETE", "PUT", "PATCH", "OPTIONS"}

# The sidecar's key for its assertions, used as it is (its UTF-8 bytes, never base64-decoded).
ASSERTION_KEY = os.environ.get("HEROKU_APPLINK_MESH_ASSERTION_KEY", "")
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


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


def base64url(data):
    """base64url without padding, as a JWT writes its parts."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def base64url_json(part):
    """A JWT's header or claims: base64url without padding, then JSON."""
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def verify_assertion(environ, key):
    """The sidecar's X-Applink-Assertion, a JWT signed HS256 with the key: its claims (a dict) when it
    is valid for this request, else the reason to refuse it (a str)."""
    token = environ.get("HTTP_X_APPLINK_ASSERTION")
    if token is None:
        return "missing"
    parts = token.split(".")  # each base64url: a length of 4n+1 never is
    if len(parts) != 3 or not all(BASE64URL.fullmatch(part) and len(part) % 4 != 1 for part in parts):
        return "malformed"
    try:
        header, claims = base64url_json(parts[0]), base64url_json(parts[1])
    except (binascii.Error, ValueError, RecursionError):
        return "malformed"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return "malformed"
    if header.get("alg") != "HS256":
        return "algorithm"
    signature = hmac.new(key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(parts[2], base64url(signature)):
        return "signature"
    if claims.get("iss") != "heroku-applink-service-mesh":
        return "issuer"
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not exp > time.time():  # NaN too
        return "expired"
    if claims.get("method") != environ["REQUEST_METHOD"]:  # the request line's, before any override
        return "method"
    # The path as sent, without the query: gunicorn's RAW_URI (QuietHandler below sets it), else
    # PATH_INFO, which WSGI gives percent-decoded as latin-1, to compare with the claim decoded so.
    path, raw = claims.get("path"), environ.get("RAW_URI")
    if raw is not None:
        same = path == raw.split("?", 1)[0]
    else:
        same = isinstance(path, str) and unquote(path, "latin-1") == environ["PATH_INFO"]
    if not same:
        return "path"
    return claims


def method(environ):
    """Flask's method-override recipe: the header, else the last query _method; on POST only."""
    real = environ["REQUEST_METHOD"].upper()  # as Werkzeug's and Django's request.method
    if real != "POST":
        return real
    override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE") or (
        parse_qs(environ.get("QUERY_STRING", "")).get("_method", [""])[-1]
    )
    return override.upper() if override.upper() in OVERRIDABLE else real


def reading(environ, claims):
    query = parse_qs(environ.get("QUERY_STRING", ""))  # Django's QueryDict[key]: the last value
    primary = client_context(environ.get("HTTP_X_CLIENT_CONTEXT"))  # environ: HTTP_ + upper, - as _
    # What the sidecar asserted: null when the app does not verify assertions.
    assertion = None if claims is None else {k: claims.get(k) for k in ("kind", "orgId", "userId", "jti")}
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
        "assertion": assertion,
    }


def app(environ, start_response):
    path = environ["PATH_INFO"]
    say(f"request {path}")
    claims = None
    if ASSERTION_KEY:  # on every route, before anything else
        claims = verify_assertion(environ, ASSERTION_KEY)
        if isinstance(claims, str):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [f"assertion refused: {claims}".encode()]
    if path == "/healthcheck":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    if path == "/slow":
        ms = int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["1000"])[0])
        time.sleep(ms / 1000)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slow ok"]
    body = json.dumps(finite(reading(environ, claims))).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass

    def get_environ(self):
        # The request target as sent (PATH_INFO is decoded), by the name gunicorn gives it.
        return {**super().get_environ(), "RAW_URI": self.path}


# SIGTERM keeps its default disposition: the process ends with 143, as a plain server does.
server = make_server("127.0.0.1", int(os.environ.get("PORT", "3000")), app, Server, QuietHandler)
say(f"listening on {server.server_address[1]}")
server.serve_forever()
