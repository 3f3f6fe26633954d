package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import io.dats.worker.llm.TierCircuits;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckRegistry;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The per-tier circuit breaker end to end: while the small tier's model answers 503, its circuit opens, its intake is
 * suspended (tasks wait in worker-service.small, none is failed or dead-lettered), REST calls for it get 503 with
 * Retry-After, its readiness check is DOWN and the tiny tier keeps working; once the model answers, the probe closes
 * the circuit and every waiting task completes exactly once.
 */
class CircuitBreakerIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("circuit");
    static final String SMALL_MODEL = "gemma3:12b";

    @Autowired
    CamelContext camelContext;

    @Autowired
    TierCircuits circuits;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.tiers.small.circuit-enabled", () -> "true");
        registry.add("worker.tiers.small.circuit-window", () -> "4");
        registry.add("worker.tiers.small.circuit-minimum-calls", () -> "4");
        registry.add("worker.tiers.small.circuit-failure-rate", () -> "50");
        registry.add("worker.tiers.small.circuit-open-for", () -> "2s");
    }

    @Test
    void openCircuitHoldsTheTiersTasksInTheirQueueAndClosesByItself() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        AtomicBoolean down = new AtomicBoolean(true);
        LLM.respondWith(call -> down.get() && SMALL_MODEL.equals(call.model())
                ? Reply.error(503, "model server down") : Reply.text(FakeLlmServer.DEFAULT_TEXT));
        int tasks = 8;
        for (int i = 0; i < tasks; i++) {
            BROKER.publishTask("small", task("cb-" + i, "code-general", "Create fibonacci function " + i));
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> !"CLOSED".equals(circuits.state("small")));
        await().atMost(Duration.ofSeconds(30)).until(() ->
                camelContext.getRouteController().getRouteStatus("intake-small") == ServiceStatus.Suspended);
        HealthCheck check = HealthCheckRegistry.get(camelContext).getCheck("circuit-small").orElseThrow();
        assertThat(check.isReadiness()).isTrue();
        assertThat(check.isLiveness()).isFalse();
        assertThat(check.call().getState()).isEqualTo(HealthCheck.State.DOWN);
        assertThat(HealthCheckRegistry.get(camelContext).getCheck("circuit-tiny").orElseThrow().call().getState())
                .isEqualTo(HealthCheck.State.UP);

        HttpResponse<String> rest = execute(json(Map.of("task_id", "cb-rest", "domain", "code-general",
                "description", "Create fibonacci function", "tier", "small")));
        assertThat(rest.statusCode()).isEqualTo(503);
        assertThat(rest.headers().firstValue("Retry-After")).isPresent();
        assertThat(parse(rest.body()).path("error").asText()).isEqualTo("tier_unavailable");

        // another tier keeps working
        BROKER.publishTask("tiny", task("cb-tiny", "code-general", "Create fibonacci function"));
        outputs.await("cb-tiny", Duration.ofSeconds(30));

        // the held tasks wait: not failed, not dead-lettered, back in (or still in) their queue
        assertThat(BROKER.messageCount("worker-service.small")).isPositive();
        for (int i = 0; i < tasks; i++) {
            assertThat(failures.of("cb-" + i)).isEmpty();
        }
        assertThat(BROKER.messageCount("worker-service.dead-letter")).isZero();
        long heldSince = System.nanoTime();

        down.set(false);
        for (int i = 0; i < tasks; i++) {
            outputs.await("cb-" + i, Duration.ofSeconds(60));
        }
        System.out.printf("circuit: closed and %d held tasks completed %.1f s after the model came back%n", tasks,
                (System.nanoTime() - heldSince) / 1e9);
        assertThat(circuits.state("small")).isEqualTo("CLOSED");
        assertThat(camelContext.getRouteController().getRouteStatus("intake-small")).isEqualTo(ServiceStatus.Started);
        assertThat(check.call().getState()).isEqualTo(HealthCheck.State.UP);
        for (int i = 0; i < tasks; i++) {
            assertThat(outputs.of("cb-" + i)).hasSize(1);
            assertThat(failures.of("cb-" + i)).isEmpty();
        }
        assertThat(BROKER.messageCount("worker-service.dead-letter")).isZero();
    }
}
