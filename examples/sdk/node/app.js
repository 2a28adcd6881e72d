// An AppLink app in Node.js with the official SDK (@heroku/applink, package.json) on Node's http:
// the Salesforce-facing routes read the client context with the SDK's parseRequest;
// /healthcheck and /slow stay outside it (docs/sdk-apps.md).
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh node app.js
// It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
// /slow answers with what this runtime read: method, client context (by the SDK), AppLink headers
// and query.
"use strict";
const http = require("http");
const querystring = require("querystring");
const { parseRequest } = require("@heroku/applink");

const say = (line) => process.stdout.write(`app: ${line}\n`);

// The SDK: req.headers["x-client-context"], Buffer's lenient base64, JSON.parse (last duplicate key
// wins); it throws when the header or userContext is missing, or a member it needs is not a string.
function sdkReading(req, body) {
  const via = "parseRequest(req.headers, body, null).context.org";
  // No context (a public route): nothing to read, as an app that checks before it asks.
  if (!req.headers["x-client-context"]) return { via, orgId: null, userId: null };
  try {
    const { org } = parseRequest(req.headers, body, null).context;
    return { via, orgId: org.id ?? null, userId: org.user.id ?? null };
  } catch (error) {
    return { via, orgId: null, userId: null, error: String(error) };
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

function reading(req, url, body) {
  const sdk = sdkReading(req, body);
  return {
    language: "node-sdk",
    method: method(req),
    requestId: req.headers["x-request-id"] ?? null,
    orgId: sdk.orgId,
    userId: sdk.userId,
    version: null, // the SDK's context has no version member
    readings: [
      sdk,
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
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    answer(200, "application/json", JSON.stringify(reading(req, url, body)));
  });
});

// The usual graceful stop: finish what is in flight, then exit 0.
process.on("SIGTERM", () => server.close(() => process.exit(0)));

server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  say(`listening on ${server.address().port}`);
});
