package io.dats.worker.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * The benchmark's LLM and RAG stand-ins on one loopback JDK HttpServer: Ollama {@code /api/chat}, OpenAI
 * {@code /v1/chat/completions}, Anthropic {@code /v1/messages} and a RAG {@code /rag/context}, answering fixed
 * replies after a configurable latency. They count in-flight calls per model (the throttle check) and the time each
 * task spent inside them (handler entry to response written, latency included), which the overhead figures subtract.
 */
final class StandIns implements AutoCloseable {

    static final String ANSWER = "Here is the code.\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n";
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Pattern TASK_ID = Pattern.compile("\\((bench-[A-Za-z0-9-]+)\\)");

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "stand-in");
        t.setDaemon(true);
        return t;
    });
    /** Answers LLM calls once their latency has passed. */
    private final ScheduledExecutorService latencies = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "stand-in-latency");
        t.setDaemon(true);
        return t;
    });
    private volatile long llmLatencyMillis;
    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> maxInFlight = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> insideNanos = new ConcurrentHashMap<>();
    final AtomicLong llmCalls = new AtomicLong();
    final AtomicLong ragCalls = new AtomicLong();
    /** Handler time without the configured latency, summed (the stand-ins' own cost). */
    final AtomicLong handlerNanos = new AtomicLong();

    StandIns() {
        // one segment per answer: without TCP_NODELAY the headers and the body meet the client's delayed ACK (40 ms)
        System.setProperty("sun.net.httpserver.nodelay", "true");
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 1024);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
    }

    String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    String ragUrl() {
        return baseUrl() + "/rag/context";
    }

    void llmLatencyMillis(long millis) {
        llmLatencyMillis = millis;
    }

    /** Forgets the in-flight maxima (the live gauges stay). */
    void resetMaxima() {
        maxInFlight.clear();
    }

    Map<String, Integer> maxInFlight() {
        Map<String, Integer> copy = new java.util.TreeMap<>();
        maxInFlight.forEach((model, max) -> copy.put(model, max.get()));
        return copy;
    }

    /** Nanoseconds the task spent inside the stand-ins (RAG and LLM together), 0 when unknown. */
    long insideNanos(String taskId) {
        AtomicLong nanos = insideNanos.get(taskId);
        return nanos == null ? 0 : nanos.get();
    }

    void forget() {
        insideNanos.clear();
    }

    private void handle(HttpExchange exchange) throws IOException {
        long start = System.nanoTime();
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        String path = exchange.getRequestURI().getPath();
        if (path.equals("/api/chat") || path.equals("/v1/chat/completions") || path.equals("/v1/messages")) {
            // answered (and closed) now or, with a latency, by the scheduler: no thread waits out the latency
            llm(exchange, path, body, start);
            return;
        }
        try (exchange) {
            if (path.equals("/rag/context")) {
                rag(exchange, body, start);
            } else {
                send(exchange, 404, "{\"error\":\"no such endpoint\"}".getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private void rag(HttpExchange exchange, byte[] body, long start) throws IOException {
        ragCalls.incrementAndGet();
        JsonNode request = MAPPER.readTree(body);
        String taskId = request.path("task_id").asText();
        ObjectNode reply = MAPPER.createObjectNode();
        reply.put("context", "## Retrieved context for " + request.path("domain").asText()
                + "\n- use the standard library; keep functions small");
        reply.putArray("sources").add("doc://bench/1");
        send(exchange, 200, MAPPER.writeValueAsBytes(reply));
        long took = System.nanoTime() - start;
        handlerNanos.addAndGet(took);
        insideNanos.computeIfAbsent(taskId, k -> new AtomicLong()).addAndGet(took);
    }

    private void llm(HttpExchange exchange, String path, byte[] body, long start) throws IOException {
        llmCalls.incrementAndGet();
        JsonNode request = MAPPER.readTree(body);
        String model = request.path("model").asText();
        Matcher matcher = TASK_ID.matcher(new String(body, StandardCharsets.UTF_8));
        String taskId = matcher.find() ? matcher.group(1) : null;
        AtomicInteger current = inFlight.computeIfAbsent(model, k -> new AtomicInteger());
        maxInFlight.computeIfAbsent(model, k -> new AtomicInteger()).accumulateAndGet(current.incrementAndGet(), Math::max);
        long latency = llmLatencyMillis;
        long received = System.nanoTime() - start;
        if (latency > 0) {
            latencies.schedule(() -> answer(exchange, path, model, taskId, current, start, received),
                    latency, TimeUnit.MILLISECONDS);
        } else {
            answer(exchange, path, model, taskId, current, start, received);
        }
    }

    /** The model's answer, after the latency; {@code received} is the handler time spent before it. */
    private void answer(HttpExchange exchange, String path, String model, String taskId, AtomicInteger current,
                        long start, long received) {
        // the model is done: no longer in flight before the client can have the answer (and send its next call)
        current.decrementAndGet();
        try (exchange) {
            long answering = System.nanoTime();
            byte[] reply = switch (path) {
                case "/api/chat" -> ollama(model);
                case "/v1/chat/completions" -> openAi(model);
                default -> anthropic(model);
            };
            send(exchange, 200, reply);
            long end = System.nanoTime();
            handlerNanos.addAndGet(received + end - answering);
            if (taskId != null) {
                insideNanos.computeIfAbsent(taskId, k -> new AtomicLong()).addAndGet(end - start);
            }
        } catch (IOException e) {
            // the client went away: nothing to answer
        }
    }

    private static byte[] ollama(String model) throws IOException {
        ObjectNode reply = MAPPER.createObjectNode();
        reply.put("model", model).put("created_at", "2025-01-01T00:00:00Z");
        reply.putObject("message").put("role", "assistant").put("content", ANSWER);
        reply.put("done_reason", "stop").put("done", true).put("total_duration", 5_000_000L)
                .put("prompt_eval_count", 120).put("eval_count", 30);
        return MAPPER.writeValueAsBytes(reply);
    }

    private static byte[] openAi(String model) throws IOException {
        ObjectNode reply = MAPPER.createObjectNode();
        reply.put("id", "chatcmpl-bench").put("object", "chat.completion").put("created", 1_735_689_600L).put("model", model);
        ObjectNode choice = reply.putArray("choices").addObject();
        choice.put("index", 0).putObject("message").put("role", "assistant").put("content", ANSWER);
        choice.put("finish_reason", "stop");
        reply.putObject("usage").put("prompt_tokens", 120).put("completion_tokens", 30).put("total_tokens", 150);
        return MAPPER.writeValueAsBytes(reply);
    }

    private static byte[] anthropic(String model) throws IOException {
        ObjectNode reply = MAPPER.createObjectNode();
        reply.put("id", "msg_bench").put("type", "message").put("role", "assistant").put("model", model);
        reply.putArray("content").addObject().put("type", "text").put("text", ANSWER);
        reply.put("stop_reason", "end_turn").putNull("stop_sequence");
        reply.putObject("usage").put("input_tokens", 120).put("output_tokens", 30);
        return MAPPER.writeValueAsBytes(reply);
    }

    private static void send(HttpExchange exchange, int status, byte[] bytes) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        server.stop(0);
        latencies.shutdownNow();
        executor.shutdownNow();
    }
}
