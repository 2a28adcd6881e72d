// An AppLink app in Node.js with its standard library only (http, querystring, Buffer, JSON),
// reading the request as Node apps do: the method as Express's method-override runs it, the query
// with the WHATWG URL API.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh node app.js
// It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
// /slow answers with what this runtime read: method, client context, AppLink headers and query.
"use strict";
const http = require("http");
const querystring = require("querystring");

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

function reading(req, url) {
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
  };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://app");
  say(`request ${url.pathname}`);
  const answer = (status, type, body) => {
    res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (url.pathname === "/healthcheck") return answer(200, "text/plain", "ok");
  if (url.pathname === "/slow") {
    const ms = Number(url.searchParams.get("ms") || 1000);
    return setTimeout(() => answer(200, "text/plain", "slow ok"), ms);
  }
  answer(200, "application/json", JSON.stringify(reading(req, url)));
});

// The usual graceful stop: finish what is in flight, then exit 0.
process.on("SIGTERM", () => server.close(() => process.exit(0)));

server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  say(`listening on ${server.address().port}`);
});
