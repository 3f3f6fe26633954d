package io.dats.worker.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A loopback queue service as seed 003's worker talks to it: keeps tasks, hands each out once on
 * {@code GET /tasks/next} (204 when empty), takes {@code POST /tasks/{id}/complete} and {@code POST /tasks/{id}/fail},
 * and records every call with its time and {@code X-API-Key}. It can drop connections (the service is down: the client
 * gets no HTTP answer), refuse reports with 503, or be stopped and restarted on the same port (connection refused).
 */
public final class FakeQueueServer implements AutoCloseable {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One call as received; {@code status} is what it was answered (0: the connection was dropped). */
    public record Call(long nanos, String method, String path, String apiKey, String body, int status, int probe) {

        public boolean isPoll() {
            return "GET".equals(method) && path.equals("/tasks/next");
        }

        public boolean isReport() {
            return "POST".equals(method) && (path.endsWith("/complete") || path.endsWith("/fail"));
        }

        /** The task id of a report path /tasks/{id}/complete|fail. */
        public String reportedTask() {
            String[] parts = path.split("/");
            return parts.length >= 4 ? java.net.URLDecoder.decode(parts[2], StandardCharsets.UTF_8) : null;
        }
    }

    /** One accepted report. */
    public record Report(String taskId, String kind, JsonNode body) {
    }

    private final ConcurrentLinkedQueue<String> tasks = new ConcurrentLinkedQueue<>();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> handedOut = new ConcurrentHashMap<>();
    private final List<Report> reports = new CopyOnWriteArrayList<>();
    private final AtomicInteger reportsToRefuse = new AtomicInteger();
    private final ExecutorService executor = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "FakeQueueServer");
        thread.setDaemon(true);
        return thread;
    });
    private volatile boolean dropConnections;
    private volatile IntSupplier probe = () -> 0;
    private volatile HttpServer server;
    private int port;

    public synchronized FakeQueueServer start() {
        if (server != null) {
            return this;
        }
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            try {
                handle(exchange);
            } finally {
                exchange.close();
            }
        });
        server.start();
        port = server.getAddress().getPort();
        return this;
    }

    /** Stops listening: calls are refused until {@link #start()} listens on the same port again. */
    public synchronized void stop() {
        if (server != null) {
            server.stop(0);
            server = null;
        }
    }

    @Override
    public void close() {
        stop();
        executor.shutdownNow();
    }

    public String url() {
        return "http://127.0.0.1:" + port;
    }

    public void add(String taskJson) {
        tasks.add(taskJson);
    }

    /** The service is down: every call's connection is closed without an answer. */
    public void dropConnections(boolean drop) {
        this.dropConnections = drop;
    }

    /** The next {@code n} report calls are answered 503. */
    public void refuseReports(int n) {
        reportsToRefuse.set(n);
    }

    /** A figure sampled when a task is handed out (e.g. the LLM calls in flight), kept in {@link Call#probe()}. */
    public void probeOnHandout(IntSupplier probe) {
        this.probe = probe;
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<Report> reports() {
        return List.copyOf(reports);
    }

    public List<Report> reportsOf(String taskId) {
        return reports.stream().filter(r -> r.taskId().equals(taskId)).toList();
    }

    public int handedOut(String taskId) {
        AtomicInteger count = handedOut.get(taskId);
        return count == null ? 0 : count.get();
    }

    public int waiting() {
        return tasks.size();
    }

    public void reset() {
        tasks.clear();
        calls.clear();
        handedOut.clear();
        reports.clear();
        reportsToRefuse.set(0);
        dropConnections = false;
        probe = () -> 0;
    }

    private void handle(HttpExchange exchange) throws IOException {
        long now = System.nanoTime();
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        String apiKey = exchange.getRequestHeaders().getFirst("X-API-Key");
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        if (dropConnections) {
            calls.add(new Call(now, method, path, apiKey, body, 0, 0));
            return; // closed without a response: the client sees a connection failure
        }
        if ("GET".equals(method) && path.equals("/tasks/next")) {
            String task = tasks.poll();
            if (task == null) {
                calls.add(new Call(now, method, path, apiKey, body, 204, 0));
                exchange.sendResponseHeaders(204, -1);
                return;
            }
            int sampled = probe.getAsInt();
            handedOut.computeIfAbsent(MAPPER.readTree(task).path("task_id").asText(), k -> new AtomicInteger()).incrementAndGet();
            calls.add(new Call(now, method, path, apiKey, body, 200, sampled));
            send(exchange, 200, task);
            return;
        }
        String[] parts = path.split("/");
        if ("POST".equals(method) && parts.length == 4 && parts[1].equals("tasks")
                && (parts[3].equals("complete") || parts[3].equals("fail"))) {
            if (reportsToRefuse.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                calls.add(new Call(now, method, path, apiKey, body, 503, 0));
                send(exchange, 503, "{\"error\":\"unavailable\"}");
                return;
            }
            calls.add(new Call(now, method, path, apiKey, body, 200, 0));
            reports.add(new Report(java.net.URLDecoder.decode(parts[2], StandardCharsets.UTF_8), parts[3], MAPPER.readTree(body)));
            send(exchange, 200, "{\"status\":\"ok\"}");
            return;
        }
        calls.add(new Call(now, method, path, apiKey, body, 404, 0));
        send(exchange, 404, "{\"error\":\"not found\"}");
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    /** The gaps in milliseconds between consecutive calls of a kind, in order. */
    public static List<Long> gapsMillis(List<Call> calls) {
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < calls.size(); i++) {
            gaps.add((calls.get(i).nanos() - calls.get(i - 1).nanos()) / 1_000_000);
        }
        return gaps;
    }
}
