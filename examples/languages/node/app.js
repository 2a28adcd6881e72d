// An AppLink app in Node.js with its standard library only (http, Buffer, JSON).
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh node app.js
// It listens on $PORT, which the sidecar sets to the app's port.
"use strict";
const http = require("http");

const say = (line) => process.stdout.write(`app: ${line}\n`);

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
  // Node lower-cases header names: the SDK reads req.headers["x-client-context"].
  const encoded = req.headers["x-client-context"];
  if (!encoded) return answer(401, "text/plain", "no client context");
  const context = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
  answer(200, "application/json", JSON.stringify({
    language: "node",
    orgId: context.orgId,
    userId: context.userContext.userId,
    requestId: req.headers["x-request-id"],
    version: context.version,
  }));
});

// The usual graceful stop: finish what is in flight, then exit 0.
process.on("SIGTERM", () => server.close(() => process.exit(0)));

server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  say(`listening on ${server.address().port}`);
});
