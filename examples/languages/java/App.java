// An AppLink app in Java with the JDK's own HTTP server (com.sun.net.httpserver) and
// java.util.Base64; JSON with Jackson, the JDK having no JSON parser of its own.
//
// Procfile: web: APP_PORT=3000 heroku-applink-service-mesh java App.java
// It listens on $PORT, which the sidecar sets to the app's port.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;

public class App {
    private static final ObjectMapper JSON = new ObjectMapper();

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
            // The common filter idiom: the header by its exact name, decoded strictly.
            String encoded = exchange.getRequestHeaders().getFirst("X-Client-Context");
            if (encoded == null) {
                answer(exchange, 401, "text/plain", "no client context");
                return;
            }
            JsonNode context = JSON.readTree(Base64.getDecoder().decode(encoded));
            Map<String, String> body = new LinkedHashMap<>();
            body.put("language", "java");
            body.put("orgId", context.path("orgId").asText());
            body.put("userId", context.path("userContext").path("userId").asText());
            body.put("requestId", exchange.getRequestHeaders().getFirst("X-Request-Id"));
            body.put("version", context.path("version").asText());
            answer(exchange, 200, "application/json", JSON.writeValueAsString(body));
        } catch (Exception e) {
            answer(exchange, 400, "text/plain", "bad request: " + e.getMessage());
        }
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
