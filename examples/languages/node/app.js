// An AppLink app in Node.js with its standard library only (http, querystring, Buffer, JSON),
// reading the request as Node apps do: the method as Express's method-override runs it, the query
// with the WHATWG URL API.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh node app.js
// It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
// /slow answers with what this runtime read: method, client context, AppLink headers and query.
// With $HEROKU_APPLINK_MESH_ASSERTION_KEY set, every route first verifies the sidecar's signed
// X-Applink-Assertion (a JWT, HS256) and answers 403 without a valid one.
"use strict";
const crypto = require("crypto");
const http = require("http");
const querystring = require("querystring");

// The sidecar's key for its assertions, used as it is (its UTF-8 bytes, never base64-decoded).
const ASSERTION_KEY = process.env.HEROKU_APPLINK_MESH_ASSERTION_KEY || "";

const say = (line) => process.stdout.write(`app: ${line}\n`);

// Node lower-cases header names: the SDK reads req.headers["x-client-context"]. Buffer's base64
// decoding is lenient (it skips what is not base64); JSON.parse keeps the last of duplicate keys.
function clientContext(encoded) {
  if (encoded === undefined) return { orgId: null, userId: null, version: null };
  try {
    const context = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
    return { orgId: context?.orgId ?? null, userId: context?.userContext?.userId ?? null, version: context?.version ?? null };
  } catch (error) {
    return { orgId: null, userId: null, version: null, error: String(error) };
  }
}

// The sidecar's X-Applink-Assertion, a JWT signed HS256 with the key: its claims (an object) when
// it is valid for this request, else the reason to refuse it (a string). Buffer's base64url decoding
// is lenient, hence the strict check of each part first (a length of 4n+1 is never base64url).
function verifyAssertion(req, key) {
  const token = req.headers["x-applink-assertion"];
  if (token === undefined) return "missing";
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]*$/.test(part) && part.length % 4 !== 1)) {
    return "malformed";
  }
  const decode = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  let header, claims;
  try {
    [header, claims] = [decode(parts[0]), decode(parts[1])];
  } catch {
    return "malformed";
  }
  if (!isObject(header) || !isObject(claims)) return "malformed";
  if (header.alg !== "HS256") return "algorithm";
  const expected = crypto.createHmac("sha256", key).update(`${parts[0]}.${parts[1]}`).digest("base64url");
  const signature = Buffer.from(parts[2]);
  if (signature.length !== expected.length || !crypto.timingSafeEqual(signature, Buffer.from(expected))) {
    return "signature";
  }
  if (claims.iss !== "heroku-applink-service-mesh") return "issuer";
  if (typeof claims.exp !== "number" || claims.exp <= Date.now() / 1000) return "expired";
  if (claims.method !== req.method) return "method"; // the request line's, before any override
  if (claims.path !== req.url.split("?")[0]) return "path"; // as sent: percent-encoding kept
  return claims;
}

// Express's method-override, as `app.use(methodOverride("_method")); app.use(methodOverride(
// "X-HTTP-Method-Override"))` runs it: on POST only, the header (first of a comma list), else the
// query's _method from querystring.parse (a repeated key is an array: method-override 3 takes its
// FIRST element); a value replaces the method only when Node knows it (http.METHODS).
function method(req) {
  if (req.method !== "POST") return req.method;
  const supported = (m) => typeof m === "string" && http.METHODS.includes(m.toUpperCase());
  const header = req.headers["x-http-method-override"];
  const fromHeader = header ? header.split(",")[0].trim() : undefined;
  const fromQuery = [querystring.parse(rawQuery(req))._method].flat()[0];
  for (const m of [fromHeader, fromQuery]) if (supported(m)) return m.toUpperCase();
  return req.method;
}

// The query as parseurl (which Express uses) cuts it from req.url: after the first "?".
const rawQuery = (req) => (req.url.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "");

function reading(req, url, claims) {
  const primary = clientContext(req.headers["x-client-context"]);
  const { version, ...first } = primary;
  return {
    language: "node",
    method: method(req),
    requestId: req.headers["x-request-id"] ?? null,
    orgId: primary.orgId,
    userId: primary.userId,
    version,
    readings: [
      { via: "req.headers['x-client-context']", ...first },
      // The sidecar's decoded context headers, by their lower-cased names.
      { via: "req.headers['x-applink-org-id']", orgId: req.headers["x-applink-org-id"] ?? null, userId: req.headers["x-applink-user-id"] ?? null },
    ],
    // URLSearchParams.get: the first value (Express's qs parser would give an array; the sidecar
    // refuses a repeated orgId either way).
    query: { orgId: url.searchParams.get("orgId"), apiName: url.searchParams.get("apiName") },
    // What the sidecar asserted: null when the app does not verify assertions.
    assertion: claims && Object.fromEntries(["kind", "orgId", "userId", "jti"].map((k) => [k, claims[k] ?? null])),
  };
}

const server = http.createServer((req, res) => {
  const answer = (status, type, body) => {
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  let url;
  try {
    url = new URL(req.url, "http://app");
  } catch {
    // Node's parser takes absolute-form targets that URL cannot read (`http://[/`): a thrown
    // error here would end the process.
    return answer(400, "text/plain", "bad request target");
  }
  say(`request ${url.pathname}`);
  let claims = null;
  if (ASSERTION_KEY) {
    // On every route, before anything else.
    claims = verifyAssertion(req, ASSERTION_KEY);
    if (typeof claims === "string") return answer(403, "text/plain", `assertion refused: ${claims}`);
  }
  if (url.pathname === "/healthcheck") return answer(200, "text/plain", "ok");
  if (url.pathname === "/slow") {
    const ms = Number(url.searchParams.get("ms") || 1000);
    return setTimeout(() => answer(200, "text/plain", "slow ok"), ms);
  }
  answer(200, "application/json", JSON.stringify(reading(req, url, claims)));
});

// The usual graceful stop: finish what is in flight, then exit 0.
process.on("SIGTERM", () => server.close(() => process.exit(0)));

server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  say(`listening on ${server.address().port}`);
});
