package io.dats.worker.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Base for the fake servers: a JDK HttpServer on 127.0.0.1 with a random port and unbounded daemon threads. */
abstract class LoopbackHttpServer implements AutoCloseable {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private volatile HttpServer server;
    private volatile int port;
    private final ExecutorService executor = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, getClass().getSimpleName());
        thread.setDaemon(true);
        return thread;
    });
    private final AtomicReference<CountDownLatch> release = new AtomicReference<>(new CountDownLatch(1));

    LoopbackHttpServer() {
        try {
            server = bind(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        port = server.getAddress().getPort();
    }

    private HttpServer bind(int port) throws IOException {
        HttpServer bound = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        bound.setExecutor(executor);
        bound.createContext("/", exchange -> {
            try {
                handle(exchange);
            } finally {
                exchange.close();
            }
        });
        return bound;
    }

    /** The service goes away: the port is closed (connections are refused) until {@link #listenAgain()}. */
    public void stopListening() {
        releaseDelayed();
        server.stop(0);
    }

    /** The service is back on the same port (retried while the port is still being released). */
    public void listenAgain() {
        org.awaitility.Awaitility.await("port " + port + " bound again").atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(200)).ignoreExceptionsInstanceOf(IOException.class)
                .until(() -> {
                    server = bind(port);
                    return true;
                });
        server.start();
    }

    /** Serves one exchange; the caller closes it afterwards. */
    abstract void handle(HttpExchange exchange) throws IOException;

    void startServer() {
        server.start();
    }

    public int port() {
        return port;
    }

    String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    /** Lets every currently delayed response proceed immediately; later delays apply again. */
    public void releaseDelayed() {
        release.getAndSet(new CountDownLatch(1)).countDown();
    }

    @Override
    public void close() {
        releaseDelayed();
        server.stop(0);
        executor.shutdownNow();
    }

    /** Holds the calling handler thread for the delay, or until {@link #releaseDelayed()} or {@link #close()}. */
    void hold(Duration delay) {
        if (delay.isZero()) {
            return;
        }
        try {
            release.get().await(delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static JsonNode readJson(HttpExchange exchange) {
        try {
            JsonNode json = MAPPER.readTree(exchange.getRequestBody());
            return json != null && json.isObject() ? json : null;
        } catch (IOException e) {
            return null;
        }
    }

    static void sendJson(HttpExchange exchange, int status, Object body) throws IOException {
        byte[] bytes = MAPPER.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    static void write(HttpExchange exchange, String text) throws IOException {
        exchange.getResponseBody().write(text.getBytes(StandardCharsets.UTF_8));
        exchange.getResponseBody().flush();
    }

    static String json(Object body) {
        try {
            return MAPPER.writeValueAsString(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Builds an insertion-ordered JSON object from alternating keys and values (null values allowed). */
    static Map<String, Object> obj(Object... keysAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }
}
