// An AppLink app in Java with the JDK's own HTTP server (com.sun.net.httpserver) and
// java.util.Base64; JSON with Jackson, the JDK having no JSON parser of its own. It reads the
// request as a Spring or servlet app would. With $HEROKU_APPLINK_MESH_ASSERTION_KEY set, it first
// verifies the sidecar's X-Applink-Assertion (a JWT) with javax.crypto.Mac.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh java -cp <the Jackson jars> App.java
// (on Debian: -cp /usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar)
// It listens on $PORT, which the sidecar sets to the app's port. Every route but /healthcheck and
// /slow answers with what this runtime read: method, client context, AppLink headers and query.

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class App {
    // Default settings but unknown properties ignored, as Spring Boot configures it.
    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();
    // The same with case-insensitive property names (an ASP.NET-like or so-configured Spring app).
    private static final ObjectMapper JSON_ANY_CASE = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES).build();
    // Spring's HiddenHttpMethodFilter.ALLOWED_METHODS.
    private static final Set<String> OVERRIDABLE = Set.of("PUT", "DELETE", "PATCH");
    // The key the sidecar signs its assertions with: the variable's text as it is, never base64-decoded.
    private static final String ASSERTION_KEY = System.getenv().getOrDefault("HEROKU_APPLINK_MESH_ASSERTION_KEY", "");

    public static class UserContext {
        public String userId;
    }

    public static class ClientContext {
        public String orgId;
        public String version;
        public UserContext userContext;
    }

    // A refused assertion, the reason as its message.
    static class AssertionRefused extends Exception {
        AssertionRefused(String reason) {
            super(reason);
        }
    }

    static void say(String line) {
        System.out.println("app: " + line);
        System.out.flush();
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "3000"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/", App::handle);
        server.start();
        say("listening on " + port);
    }

    static void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        say("request " + path);
        try {
            // Every route, /healthcheck and /slow included, only with a valid assertion when there is a key.
            JsonNode claims = verifyAssertion(exchange);
            if (path.equals("/healthcheck")) {
                answer(exchange, 200, "text/plain", "ok");
                return;
            }
            if (path.equals("/slow")) {
                String query = exchange.getRequestURI().getQuery();
                int ms = query != null && query.startsWith("ms=") ? Integer.parseInt(query.substring(3)) : 1000;
                Thread.sleep(ms);
                answer(exchange, 200, "text/plain", "slow ok");
                return;
            }
            answer(exchange, 200, "application/json", JSON.writeValueAsString(read(exchange, claims)));
        } catch (AssertionRefused refused) {
            answer(exchange, 403, "text/plain", "assertion refused: " + refused.getMessage());
        } catch (Exception e) {
            answer(exchange, 500, "text/plain", "app bug: " + e);
        }
    }

    // The sidecar's X-Applink-Assertion, a JWT signed HS256, checked against this very request: its
    // claims, or AssertionRefused with the reason. Without a key: null.
    static JsonNode verifyAssertion(HttpExchange exchange) throws AssertionRefused, GeneralSecurityException {
        if (ASSERTION_KEY.isEmpty()) {
            return null;
        }
        String token = exchange.getRequestHeaders().getFirst("X-Applink-Assertion");
        if (token == null) {
            throw new AssertionRefused("missing");
        }
        // Three parts of base64url without padding (the decoder would also take padding).
        if (!token.matches("[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*\\.[A-Za-z0-9_-]*")) {
            throw new AssertionRefused("malformed");
        }
        String[] parts = token.split("\\.", -1);
        JsonNode header;
        JsonNode claims;
        byte[] signature;
        try {
            header = JSON.readTree(Base64.getUrlDecoder().decode(parts[0]));
            claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
            signature = Base64.getUrlDecoder().decode(parts[2]);
        } catch (IllegalArgumentException | IOException e) {
            throw new AssertionRefused("malformed");
        }
        if (!header.isObject() || !claims.isObject()) {
            throw new AssertionRefused("malformed");
        }
        if (!"HS256".equals(header.path("alg").textValue())) {
            throw new AssertionRefused("algorithm");
        }
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(ASSERTION_KEY.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        byte[] expected = mac.doFinal((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
        if (!MessageDigest.isEqual(expected, signature)) { // constant time
            throw new AssertionRefused("signature");
        }
        if (!"heroku-applink-service-mesh".equals(claims.path("iss").textValue())) {
            throw new AssertionRefused("issuer");
        }
        JsonNode exp = claims.path("exp");
        if (!exp.isNumber() || exp.asDouble() <= System.currentTimeMillis() / 1000) {
            throw new AssertionRefused("expired");
        }
        // The request line's method (not method(), which applies the override) and its raw path:
        // percent-encoding kept, without the query.
        if (!exchange.getRequestMethod().equals(claims.path("method").textValue())) {
            throw new AssertionRefused("method");
        }
        if (!exchange.getRequestURI().getRawPath().equals(claims.path("path").textValue())) {
            throw new AssertionRefused("path");
        }
        return claims;
    }

    static Map<String, Object> read(HttpExchange exchange, JsonNode claims) throws IOException {
        Headers headers = exchange.getRequestHeaders(); // case-insensitive; getFirst: the first value
        String encoded = headers.getFirst("X-Client-Context");
        Map<String, Object> primary = clientContext(encoded, JSON, "getFirst + Jackson POJO");
        List<Map<String, Object>> readings = new ArrayList<>();
        readings.add(primary);
        readings.add(clientContext(encoded, JSON_ANY_CASE, "getFirst + Jackson POJO, ACCEPT_CASE_INSENSITIVE_PROPERTIES"));
        // The sidecar's decoded context headers, by getFirst.
        readings.add(reading("getFirst(\"X-Applink-Org-Id\")", headers.getFirst("X-Applink-Org-Id"),
                headers.getFirst("X-Applink-User-Id"), null));
        String rawQuery = exchange.getRequestURI().getRawQuery();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("language", "java");
        body.put("method", method(exchange, rawQuery));
        body.put("requestId", headers.getFirst("X-Request-Id"));
        body.put("orgId", primary.get("orgId"));
        body.put("userId", primary.get("userId"));
        body.put("version", primary.remove("version"));
        body.put("readings", readings);
        Map<String, Object> query = new LinkedHashMap<>();
        query.put("orgId", parameter(rawQuery, "orgId"));
        query.put("apiName", parameter(rawQuery, "apiName"));
        body.put("query", query);
        // The verified assertion's claims, null for an absent one; null altogether without a key.
        Map<String, Object> assertion = null;
        if (claims != null) {
            assertion = new LinkedHashMap<>();
            for (String name : new String[] {"kind", "orgId", "userId", "jti"}) {
                assertion.put(name, claims.get(name));
            }
        }
        body.put("assertion", assertion);
        return body;
    }

    // Strict base64 (RFC 4648 alphabet, padding optional), then Jackson into the POJO.
    static Map<String, Object> clientContext(String encoded, ObjectMapper mapper, String via) {
        if (encoded == null) {
            return reading(via, null, null, null);
        }
        try {
            ClientContext context = mapper.readValue(Base64.getDecoder().decode(encoded), ClientContext.class);
            if (context == null) { // the JSON null
                context = new ClientContext();
            }
            Map<String, Object> read = reading(via, context.orgId,
                    context.userContext == null ? null : context.userContext.userId, null);
            read.put("version", context.version);
            return read;
        } catch (IllegalArgumentException | IOException e) {
            return reading(via, null, null, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    static Map<String, Object> reading(String via, Object orgId, Object userId, String error) {
        Map<String, Object> read = new LinkedHashMap<>();
        read.put("via", via);
        read.put("orgId", orgId);
        read.put("userId", userId);
        if (error != null) {
            read.put("error", error);
        }
        return read;
    }

    // Spring's HiddenHttpMethodFilter on POST: the first _method parameter (query, then a form
    // body, as getParameter reads them) if PUT, DELETE or PATCH; else, as a header filter after
    // it would, the X-HTTP-Method-Override header (getFirst) by the same rule.
    static String method(HttpExchange exchange, String rawQuery) throws IOException {
        String real = exchange.getRequestMethod();
        if (!real.equals("POST")) {
            return real;
        }
        String param = parameter(rawQuery, "_method");
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        if (param == null && type != null && type.startsWith("application/x-www-form-urlencoded")) {
            param = parameter(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.ISO_8859_1), "_method");
        }
        for (String candidate : new String[] {param, exchange.getRequestHeaders().getFirst("X-HTTP-Method-Override")}) {
            String upper = candidate == null ? null : candidate.toUpperCase(Locale.ENGLISH);
            if (upper != null && OVERRIDABLE.contains(upper)) {
                return upper;
            }
        }
        return real;
    }

    // A servlet's getParameter: split on &, URL-decode (UTF-8), the first value; a pair that
    // fails to decode is skipped, as Tomcat does.
    static String parameter(String raw, String name) {
        if (raw == null) {
            return null;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            try {
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                if (key.equals(name)) {
                    return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                }
            } catch (IllegalArgumentException skipped) {
                // A malformed %-escape: the pair is ignored.
            }
        }
        return null;
    }

    static void answer(HttpExchange exchange, int status, String type, String text) throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
