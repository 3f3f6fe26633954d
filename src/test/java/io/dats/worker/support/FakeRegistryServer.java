package io.dats.worker.support;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;

/**
 * Loopback worker registry ("queen" of seed 001): takes {@code POST /v1/worker-heartbeat} and keeps every heartbeat
 * it accepted. It can be made to refuse beats (503) or to hang on them, as a registry that is down or slow.
 */
public final class FakeRegistryServer extends LoopbackHttpServer {

    /** How the registry treats a heartbeat. */
    public enum Mode { ACCEPT, REFUSE, HANG }

    private final List<JsonNode> heartbeats = new CopyOnWriteArrayList<>();
    private volatile Mode mode = Mode.ACCEPT;
    private volatile int refused;

    public FakeRegistryServer start() {
        startServer();
        return this;
    }

    public String url() {
        return baseUrl();
    }

    public FakeRegistryServer mode(Mode mode) {
        this.mode = mode;
        if (mode == Mode.ACCEPT) {
            releaseDelayed();
        }
        return this;
    }

    /** Heartbeats accepted so far, oldest first. */
    public List<JsonNode> heartbeats() {
        return List.copyOf(heartbeats);
    }

    /** Heartbeats that arrived while the registry refused or hung. */
    public int refused() {
        return refused;
    }

    public void clear() {
        heartbeats.clear();
        refused = 0;
    }

    @Override
    void handle(HttpExchange exchange) throws IOException {
        if (!"/v1/worker-heartbeat".equals(exchange.getRequestURI().getPath())
                || !"POST".equals(exchange.getRequestMethod())) {
            sendJson(exchange, 404, obj("error", "not found"));
            return;
        }
        JsonNode beat = readJson(exchange);
        switch (mode) {
            case REFUSE -> {
                refused++;
                sendJson(exchange, 503, obj("error", "registry down"));
            }
            case HANG -> {
                refused++;
                hold(Duration.ofSeconds(30));
                sendJson(exchange, 503, obj("error", "registry too slow"));
            }
            default -> {
                if (beat == null) {
                    sendJson(exchange, 400, obj("error", "not JSON"));
                    return;
                }
                heartbeats.add(beat);
                sendJson(exchange, 200, obj("status", "ok"));
            }
        }
    }
}
