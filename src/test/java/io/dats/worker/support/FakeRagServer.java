package io.dats.worker.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/** Loopback fake of the RAG context service: {@code POST <path>} with a query, answering markdown context and sources. */
public final class FakeRagServer extends LoopbackHttpServer {

    public static final String DEFAULT_PATH = "/api/v1/context";

    private static final Function<JsonNode, RagReply> DEFAULT_BEHAVIOUR = request -> {
        String domain = request.path("domain").asText();
        return RagReply.context("## Retrieved context for " + domain + "\n- relevant snippet about: "
                + request.path("query").asText(), List.of("doc://" + domain + "/1"));
    };

    /** What to answer to one context request. */
    public record RagReply(int status, String context, List<String> sources, Duration delay) {

        public static RagReply context(String markdown, List<String> sources) {
            return new RagReply(200, Objects.requireNonNull(markdown), List.copyOf(sources), Duration.ZERO);
        }

        public static RagReply empty() {
            return context("", List.of());
        }

        public static RagReply error(int status) {
            return new RagReply(status, null, List.of(), Duration.ZERO);
        }

        /** Holds the response this long (or until {@link FakeRagServer#releaseDelayed()}) before answering. */
        public RagReply delayed(Duration delay) {
            return new RagReply(status, context, sources, delay);
        }
    }

    private final String path;
    private volatile Function<JsonNode, RagReply> behaviour = DEFAULT_BEHAVIOUR;
    private final List<JsonNode> requests = new CopyOnWriteArrayList<>();

    public FakeRagServer() {
        this(DEFAULT_PATH);
    }

    public FakeRagServer(String path) {
        this.path = path;
    }

    public FakeRagServer start() {
        startServer();
        return this;
    }

    /** Full endpoint URL, e.g. {@code http://127.0.0.1:<port>/api/v1/context}. */
    public String url() {
        return baseUrl() + path;
    }

    /** Programs the reply for every subsequent request; may be changed at any time. */
    public FakeRagServer respondWith(Function<JsonNode, RagReply> behaviour) {
        this.behaviour = Objects.requireNonNull(behaviour);
        return this;
    }

    public List<JsonNode> requests() {
        return List.copyOf(requests);
    }

    public int requestCount() {
        return requests.size();
    }

    /** Clears recorded requests, restores the default reply and releases held requests. */
    public void reset() {
        behaviour = DEFAULT_BEHAVIOUR;
        requests.clear();
        releaseDelayed();
    }

    @Override
    void handle(HttpExchange exchange) throws IOException {
        if (!path.equals(exchange.getRequestURI().getPath())) {
            sendJson(exchange, 404, obj("error", "no such endpoint: " + exchange.getRequestURI().getPath()));
            return;
        }
        if (!"POST".equals(exchange.getRequestMethod())) {
            sendJson(exchange, 405, obj("error", "method not allowed"));
            return;
        }
        JsonNode request = readJson(exchange);
        if (request == null) {
            sendJson(exchange, 400, obj("error", "request body is not a valid JSON object"));
            return;
        }
        requests.add(request);
        RagReply reply = behaviour.apply(request);
        hold(reply.delay());
        if (reply.status() >= 400) {
            sendJson(exchange, reply.status(), obj("error", "fake RAG error", "status", reply.status()));
        } else {
            sendJson(exchange, reply.status(), obj("context", reply.context(), "sources", reply.sources()));
        }
    }
}
