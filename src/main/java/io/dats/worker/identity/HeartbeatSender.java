package io.dats.worker.identity;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.web.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationContext;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;

/**
 * Seed 001's heartbeats: when {@code worker.registry.url} is set, {@code POST {url}/v1/worker-heartbeat} with
 * {@code {"worker": <info>, "timestamp"}} from the moment the web server listens (status {@code starting} until the
 * application is ready) and then every {@code worker.registry.interval},
 * and a last one with status {@code stopped} as soon as the shutdown begins (before the drain). Beats run on one
 * daemon thread of their own with short timeouts ({@code worker.registry.timeout}): a registry that is down or slow
 * never stops nor slows the worker; an outage is logged once when it begins and once when it ends.
 */
@Component
public class HeartbeatSender {

    private static final Logger LOG = LoggerFactory.getLogger(HeartbeatSender.class);

    private final RegistryProperties registry;
    private final WorkerIdentity identity;
    private final ObjectMapper mapper;
    private final ApplicationContext context;
    private final AtomicBoolean registryDown = new AtomicBoolean();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private volatile ScheduledExecutorService scheduler;
    private volatile ScheduledFuture<?> beats;
    private volatile HttpClient http;

    HeartbeatSender(RegistryProperties registry, WorkerIdentity identity, ObjectMapper mapper, ApplicationContext context) {
        this.registry = registry;
        this.identity = identity;
        this.mapper = mapper;
        this.context = context;
    }

    /** From the moment the web server listens (its port is known): the registry sees {@code starting}, then {@code ready}. */
    @EventListener
    void onWebServerUp(WebServerInitializedEvent event) {
        if (event.getApplicationContext() != context || !registry.enabled()) {
            return;
        }
        start();
    }

    /** Right after the status turned {@code stopped} (WorkerLifecycle) and before the drain (GracefulShutdown). */
    @EventListener
    @Order(Ordered.HIGHEST_PRECEDENCE + 1)
    void onClose(ContextClosedEvent event) {
        if (event.getApplicationContext() == context) {
            stop();
        }
    }

    synchronized void start() {
        if (scheduler != null || stopped.get()) {
            return;
        }
        http = HttpClient.newBuilder().connectTimeout(registry.timeout()).build();
        scheduler = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "worker-heartbeat");
            thread.setDaemon(true);
            return thread;
        });
        beats = scheduler.scheduleWithFixedDelay(() -> beat(identity.info()), 0,
                registry.interval().toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("Heartbeats to {} every {} ms", registry.heartbeatUri(), registry.interval().toMillis());
    }

    /** Stops the beats and sends the last one, {@code stopped}, within the timeout. */
    synchronized void stop() {
        if (!stopped.compareAndSet(false, true) || scheduler == null) {
            return;
        }
        beats.cancel(false);
        scheduler.shutdown();
        try {
            // the beat in progress, if any, ends within the timeout; the last beat must come after it
            scheduler.awaitTermination(registry.timeout().toMillis() + 500, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        beat(identity.info(WorkerStatus.STOPPED));
    }

    /** Sends one heartbeat; never throws. Returns whether the registry accepted it (2xx). */
    boolean beat(WorkerInfo info) {
        try {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("worker", info);
            body.put("timestamp", Instant.now().toString());
            HttpRequest request = HttpRequest.newBuilder(registry.heartbeatUri())
                    .timeout(registry.timeout())
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(mapper.writeValueAsBytes(body)))
                    .build();
            HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
            if (response.statusCode() / 100 == 2) {
                if (registryDown.compareAndSet(true, false)) {
                    LOG.info("Registry {} answers again: heartbeats resume", registry.heartbeatUri());
                }
                return true;
            }
            down("HTTP " + response.statusCode());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            down("interrupted");
        } catch (Exception e) {
            down(e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        return false;
    }

    private void down(String reason) {
        if (registryDown.compareAndSet(false, true)) {
            LOG.warn("Registry {} did not take a heartbeat ({}); the worker carries on and keeps trying every {} ms "
                    + "(logged once until it answers again)", registry.heartbeatUri(), reason,
                    registry.interval().toMillis());
        }
    }

    boolean registryDown() {
        return registryDown.get();
    }
}
