package io.dats.worker.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/** Loopback fake of the OpenAI, Ollama and Anthropic chat APIs with programmable replies and in-flight accounting. */
public final class FakeLlmServer extends LoopbackHttpServer {

    public static final String OPENAI = "openai";
    public static final String OLLAMA = "ollama";
    public static final String ANTHROPIC = "anthropic";

    /** Reply text used when no behaviour is programmed: prose plus one fenced code block. */
    public static final String DEFAULT_TEXT = "Here is the code.\n\n```python\nprint('hello')\n```\n";

    private static final Function<LlmCall, Reply> DEFAULT_BEHAVIOUR = call -> Reply.text(DEFAULT_TEXT);

    /** One chat request as received: provider, model, user prompt text, raw JSON body, streaming flag and headers. */
    public record LlmCall(String provider, String model, String prompt, JsonNode request, boolean streaming,
                          Map<String, List<String>> headers) {

        /** First value of a request header (case-insensitive name), or null. */
        public String header(String name) {
            List<String> values = headers.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }
    }

    /** What to answer to one call; token counts left null are derived by counting words. */
    public record Reply(int status, String text, Integer promptTokens, Integer completionTokens, Duration delay,
                        boolean drop, String retryAfter) {

        public static Reply text(String content) {
            return new Reply(200, Objects.requireNonNull(content), null, null, Duration.ZERO, false, null);
        }

        public static Reply error(int status, String message) {
            return new Reply(status, message, null, null, Duration.ZERO, false, null);
        }

        public static Reply dropConnection() {
            return new Reply(0, null, null, null, Duration.ZERO, true, null);
        }

        public Reply withUsage(int promptTokens, int completionTokens) {
            return new Reply(status, text, promptTokens, completionTokens, delay, drop, retryAfter);
        }

        /** Holds the response this long (or until {@link FakeLlmServer#releaseDelayed()}) before answering. */
        public Reply delayed(Duration delay) {
            return new Reply(status, text, promptTokens, completionTokens, delay, drop, retryAfter);
        }

        /** An error answer with a {@code Retry-After} header (seconds or an HTTP date). */
        public Reply withRetryAfter(String value) {
            return new Reply(status, text, promptTokens, completionTokens, delay, drop, value);
        }
    }

    private volatile Function<LlmCall, Reply> behaviour = DEFAULT_BEHAVIOUR;
    private volatile String expectedOpenAiKey;
    private volatile List<String> ollamaModels = List.of();
    private final List<LlmCall> calls = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> requestCounts = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> maxInFlight = new ConcurrentHashMap<>();
    private volatile Duration streamChunkDelay = Duration.ZERO;
    private volatile Instant lastStreamEnd;

    public FakeLlmServer start() {
        startServer();
        return this;
    }

    public String openAiBaseUrl() {
        return baseUrl() + "/v1";
    }

    public String ollamaBaseUrl() {
        return baseUrl();
    }

    public String anthropicBaseUrl() {
        return baseUrl() + "/v1/";
    }

    /** Programs the reply for every subsequent call; may be changed at any time. */
    public FakeLlmServer respondWith(Function<LlmCall, Reply> behaviour) {
        this.behaviour = Objects.requireNonNull(behaviour);
        return this;
    }

    /** Makes OpenAI calls require {@code Authorization: Bearer <key>}; null disables the check. Kept by {@link #reset()}. */
    public FakeLlmServer expectOpenAiKey(String key) {
        this.expectedOpenAiKey = key;
        return this;
    }

    /** Models listed by Ollama's {@code GET /api/tags}. Kept by {@link #reset()}. */
    public FakeLlmServer ollamaModels(String... names) {
        this.ollamaModels = List.of(names);
        return this;
    }

    /** Pauses this long between the pieces of a streamed answer (a slow model); cleared by {@link #reset()}. */
    public FakeLlmServer streamChunkDelay(Duration delay) {
        this.streamChunkDelay = Objects.requireNonNull(delay);
        return this;
    }

    /** When the last streamed answer was completely written (its last piece sent), or null. */
    public Instant lastStreamEnd() {
        return lastStreamEnd;
    }

    public List<LlmCall> calls() {
        return List.copyOf(calls);
    }

    public int requestCount(String model) {
        return count(requestCounts, model);
    }

    public int inFlight(String model) {
        return count(inFlight, model);
    }

    public int maxInFlight(String model) {
        return count(maxInFlight, model);
    }

    /** Clears calls and counters (except live in-flight gauges), restores the default reply and releases held calls. */
    public void reset() {
        behaviour = DEFAULT_BEHAVIOUR;
        calls.clear();
        requestCounts.clear();
        maxInFlight.clear();
        streamChunkDelay = Duration.ZERO;
        lastStreamEnd = null;
        releaseDelayed();
    }

    @Override
    void handle(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        switch (path) {
            case "/v1/chat/completions" -> chat(exchange, OPENAI);
            case "/api/chat" -> chat(exchange, OLLAMA);
            case "/v1/messages" -> chat(exchange, ANTHROPIC);
            case "/api/tags" -> tags(exchange);
            default -> sendJson(exchange, 404, obj("error", "no such endpoint: " + path));
        }
    }

    private void tags(HttpExchange exchange) throws IOException {
        if (!"GET".equals(exchange.getRequestMethod())) {
            sendJson(exchange, 405, obj("error", "method not allowed"));
            return;
        }
        List<Object> models = ollamaModels.stream().<Object>map(name -> obj(
                "name", name, "model", name, "modified_at", "2025-01-01T00:00:00.123456789+00:00", "size", 1_000_000,
                "digest", "sha256:" + Integer.toHexString(name.hashCode()),
                "details", obj("format", "gguf", "family", "llama", "parameter_size", "1B", "quantization_level", "Q4_0")))
                .toList();
        sendJson(exchange, 200, obj("models", models));
    }

    private void chat(HttpExchange exchange, String provider) throws IOException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            sendError(exchange, provider, 405, "method not allowed");
            return;
        }
        Headers headers = exchange.getRequestHeaders();
        String key = expectedOpenAiKey;
        if (OPENAI.equals(provider) && key != null && !("Bearer " + key).equals(headers.getFirst("Authorization"))) {
            sendError(exchange, provider, 401, "Incorrect API key provided.");
            return;
        }
        if (ANTHROPIC.equals(provider) && isBlank(headers.getFirst("x-api-key"))) {
            sendError(exchange, provider, 401, "x-api-key header is required");
            return;
        }
        if (ANTHROPIC.equals(provider) && isBlank(headers.getFirst("anthropic-version"))) {
            sendError(exchange, provider, 400, "anthropic-version: header is required");
            return;
        }
        JsonNode request = readJson(exchange);
        if (request == null) {
            sendError(exchange, provider, 400, "request body is not a valid JSON object");
            return;
        }
        String model = request.path("model").asText("");
        boolean streaming = request.path("stream").asBoolean(OLLAMA.equals(provider));
        LlmCall call = new LlmCall(provider, model, prompt(request), request, streaming, copy(headers));
        calls.add(call);
        counter(requestCounts, model).incrementAndGet();
        AtomicInteger current = counter(inFlight, model);
        counter(maxInFlight, model).accumulateAndGet(current.incrementAndGet(), Math::max);
        // a call stops counting as in flight before the client can have its whole answer: counted after it, the
        // client could read the answer and send its next call while this one still counted (one too many)
        AtomicBoolean counted = new AtomicBoolean(true);
        Runnable answered = () -> {
            if (counted.getAndSet(false)) {
                current.decrementAndGet();
            }
        };
        try {
            Reply reply = behaviour.apply(call);
            hold(reply.delay());
            if (reply.drop()) {
                return; // closing the exchange before any response header closes the socket
            }
            if (reply.status() >= 400) {
                if (reply.retryAfter() != null) {
                    exchange.getResponseHeaders().add("Retry-After", reply.retryAfter());
                }
                answered.run();
                sendError(exchange, provider, reply.status(), reply.text());
                return;
            }
            if (!streaming) {
                // sent whole, with its length: the client has it as soon as the bytes are written
                answered.run();
            }
            int promptTokens = reply.promptTokens() != null ? reply.promptTokens() : words(call.prompt());
            int completionTokens = reply.completionTokens() != null ? reply.completionTokens() : words(reply.text());
            Answer answer = new Answer(call, reply.text(), promptTokens, completionTokens);
            switch (provider) {
                case OPENAI -> openAi(exchange, answer);
                case OLLAMA -> ollama(exchange, answer);
                default -> anthropic(exchange, answer);
            }
        } finally {
            // a streamed answer ends with the last chunk, written when the exchange is closed
            answered.run();
            exchange.close();
        }
    }

    private record Answer(LlmCall call, String text, int promptTokens, int completionTokens) {

        String model() {
            return call.model();
        }

        List<String> pieces() {
            return Arrays.stream(text.split("(?<=\\s)")).filter(piece -> !piece.isEmpty()).toList();
        }
    }

    private void openAi(HttpExchange exchange, Answer answer) throws IOException {
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        long created = Instant.now().getEpochSecond();
        Map<String, Object> usage = obj("prompt_tokens", answer.promptTokens(), "completion_tokens",
                answer.completionTokens(), "total_tokens", answer.promptTokens() + answer.completionTokens());
        if (!answer.call().streaming()) {
            sendJson(exchange, 200, obj("id", id, "object", "chat.completion", "created", created, "model", answer.model(),
                    "choices", List.of(obj("index", 0, "message", obj("role", "assistant", "content", answer.text()),
                            "logprobs", null, "finish_reason", "stop")),
                    "usage", usage));
            return;
        }
        startStream(exchange, "text/event-stream");
        for (String piece : answer.pieces()) {
            pauseBetweenChunks();
            write(exchange, sse(null, openAiChunk(id, created, answer.model(),
                    obj("role", "assistant", "content", piece), null)));
        }
        write(exchange, sse(null, openAiChunk(id, created, answer.model(), obj(), "stop")));
        if (answer.call().request().path("stream_options").path("include_usage").asBoolean(false)) {
            write(exchange, sse(null, obj("id", id, "object", "chat.completion.chunk", "created", created,
                    "model", answer.model(), "choices", List.of(), "usage", usage)));
        }
        write(exchange, "data: [DONE]\n\n");
        lastStreamEnd = Instant.now();
    }

    private static Map<String, Object> openAiChunk(String id, long created, String model, Object delta, String finish) {
        return obj("id", id, "object", "chat.completion.chunk", "created", created, "model", model,
                "choices", List.of(obj("index", 0, "delta", delta, "logprobs", null, "finish_reason", finish)));
    }

    private void ollama(HttpExchange exchange, Answer answer) throws IOException {
        Map<String, Object> last = ollamaChunk(answer.model(), answer.call().streaming() ? "" : answer.text());
        last.putAll(obj("done_reason", "stop", "done", true, "total_duration", 5_000_000L, "load_duration", 1_000_000L,
                "prompt_eval_count", answer.promptTokens(), "prompt_eval_duration", 1_000_000L,
                "eval_count", answer.completionTokens(), "eval_duration", 3_000_000L));
        if (!answer.call().streaming()) {
            sendJson(exchange, 200, last);
            return;
        }
        startStream(exchange, "application/x-ndjson");
        for (String piece : answer.pieces()) {
            pauseBetweenChunks();
            write(exchange, json(ollamaChunk(answer.model(), piece)) + "\n");
        }
        write(exchange, json(last) + "\n");
        lastStreamEnd = Instant.now();
    }

    private static Map<String, Object> ollamaChunk(String model, String content) {
        return obj("model", model, "created_at", Instant.now().toString(),
                "message", obj("role", "assistant", "content", content), "done", false);
    }

    private void anthropic(HttpExchange exchange, Answer answer) throws IOException {
        String id = "msg_" + UUID.randomUUID().toString().replace("-", "");
        if (!answer.call().streaming()) {
            sendJson(exchange, 200, obj("id", id, "type", "message", "role", "assistant", "model", answer.model(),
                    "content", List.of(obj("type", "text", "text", answer.text())),
                    "stop_reason", "end_turn", "stop_sequence", null,
                    "usage", obj("input_tokens", answer.promptTokens(), "output_tokens", answer.completionTokens())));
            return;
        }
        startStream(exchange, "text/event-stream");
        write(exchange, sse("message_start", obj("type", "message_start", "message", obj("id", id, "type", "message",
                "role", "assistant", "model", answer.model(), "content", List.of(), "stop_reason", null,
                "stop_sequence", null, "usage", obj("input_tokens", answer.promptTokens(), "output_tokens", 1)))));
        write(exchange, sse("content_block_start", obj("type", "content_block_start", "index", 0,
                "content_block", obj("type", "text", "text", ""))));
        write(exchange, sse("ping", obj("type", "ping")));
        for (String piece : answer.pieces()) {
            pauseBetweenChunks();
            write(exchange, sse("content_block_delta", obj("type", "content_block_delta", "index", 0,
                    "delta", obj("type", "text_delta", "text", piece))));
        }
        write(exchange, sse("content_block_stop", obj("type", "content_block_stop", "index", 0)));
        write(exchange, sse("message_delta", obj("type", "message_delta",
                "delta", obj("stop_reason", "end_turn", "stop_sequence", null),
                "usage", obj("output_tokens", answer.completionTokens()))));
        write(exchange, sse("message_stop", obj("type", "message_stop")));
        lastStreamEnd = Instant.now();
    }

    private void pauseBetweenChunks() {
        hold(streamChunkDelay);
    }

    private static void sendError(HttpExchange exchange, String provider, int status, String message) throws IOException {
        Object body = switch (provider) {
            case OPENAI -> obj("error", obj("message", message, "type", openAiErrorType(status), "param", null,
                    "code", openAiErrorCode(status)));
            case ANTHROPIC -> obj("type", "error", "error", obj("type", anthropicErrorType(status), "message", message));
            default -> obj("error", message);
        };
        sendJson(exchange, status, body);
    }

    private static String openAiErrorType(int status) {
        return status >= 500 ? "server_error" : status == 429 ? "requests" : "invalid_request_error";
    }

    private static String openAiErrorCode(int status) {
        return switch (status) {
            case 401 -> "invalid_api_key";
            case 404 -> "model_not_found";
            case 429 -> "rate_limit_exceeded";
            default -> null;
        };
    }

    private static String anthropicErrorType(int status) {
        return switch (status) {
            case 400 -> "invalid_request_error";
            case 401 -> "authentication_error";
            case 403 -> "permission_error";
            case 404 -> "not_found_error";
            case 413 -> "request_too_large";
            case 429 -> "rate_limit_error";
            case 503, 529 -> "overloaded_error";
            default -> status >= 500 ? "api_error" : "invalid_request_error";
        };
    }

    private static void startStream(HttpExchange exchange, String contentType) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        exchange.sendResponseHeaders(200, 0);
    }

    private static String sse(String event, Object data) {
        return (event == null ? "" : "event: " + event + "\n") + "data: " + json(data) + "\n\n";
    }

    /** Concatenated text of all user messages; content may be a string or an array of {@code {type:"text",text}} parts. */
    private static String prompt(JsonNode request) {
        return StreamSupport.stream(request.path("messages").spliterator(), false)
                .filter(message -> "user".equals(message.path("role").asText()))
                .map(message -> message.path("content"))
                .map(content -> content.isArray()
                        ? StreamSupport.stream(content.spliterator(), false)
                                .filter(part -> "text".equals(part.path("type").asText()))
                                .map(part -> part.path("text").asText())
                                .collect(Collectors.joining("\n"))
                        : content.asText(""))
                .collect(Collectors.joining("\n"));
    }

    private static Map<String, List<String>> copy(Headers headers) {
        Map<String, List<String>> copy = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        headers.forEach((name, values) -> copy.put(name, List.copyOf(values)));
        return Collections.unmodifiableMap(copy);
    }

    private static int words(String text) {
        return text.isBlank() ? 0 : text.trim().split("\\s+").length;
    }

    private static boolean isBlank(String value) {
        return value == null || value.isBlank();
    }

    private static AtomicInteger counter(Map<String, AtomicInteger> counters, String model) {
        return counters.computeIfAbsent(model, m -> new AtomicInteger());
    }

    private static int count(Map<String, AtomicInteger> counters, String model) {
        AtomicInteger counter = counters.get(model);
        return counter == null ? 0 : counter.get();
    }
}
