package io.dats.worker.metrics;

import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmCallTracker;
import io.dats.worker.llm.TierSlots;
import io.dats.worker.store.TaskStore;
import io.dats.worker.task.Failure;
import io.dats.worker.task.TaskVariables;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.support.StaticListableBeanFactory;

import static org.assertj.core.api.Assertions.assertThat;

/** The worker's meters from the exchange of one task (no Spring context, no broker: queue depth stays 0). */
class WorkerMetricsTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final WorkerProperties properties = TestWorkerProperties.defaults();
    private final TierSlots slots = new TierSlots(properties);
    private final CamelContext camel = new DefaultCamelContext();
    private final QueueDepths depths = new QueueDepths(properties,
            new StaticListableBeanFactory().getBeanProvider(org.springframework.amqp.core.AmqpAdmin.class));
    private final WorkerMetrics metrics = new WorkerMetrics(registry, properties, new WorkerResources(slots), slots,
            camel, depths, new ObjectMapper());

    @AfterEach
    void stop() {
        depths.destroy();
    }

    private Exchange task(String id, String tier, String domain) {
        Exchange exchange = new DefaultExchange(camel);
        exchange.setVariable(TaskVariables.TASK_ID, id);
        exchange.setVariable(TaskVariables.TIER, tier);
        exchange.setVariable(TaskVariables.DOMAIN, domain);
        exchange.setVariable(TaskVariables.SOURCE, "queue");
        return exchange;
    }

    private static long start() {
        return System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(50);
    }

    @Test
    void aCompletedTaskIsCountedWithItsTierDomainModelLatenciesTokensAndRagStatus() {
        Exchange exchange = task("t-1", "small", "code-general");
        metrics.received(exchange);
        exchange.setVariable(TaskVariables.RAG_STATUS, "empty");
        exchange.setVariable(LlmCallTracker.LLM_NANOS, TimeUnit.MILLISECONDS.toNanos(20));
        exchange.setVariable(LlmCallTracker.INPUT_TOKENS, 100);
        exchange.setVariable(LlmCallTracker.OUTPUT_TOKENS, 23);
        metrics.recordTask(exchange, start());

        String model = properties.tiers().get("small").model();
        assertThat(registry.get(WorkerMetrics.RECEIVED).tags("tier", "small", "domain", "code-general", "model", model,
                "source", "queue").counter().count()).isEqualTo(1);
        assertThat(registry.get(WorkerMetrics.COMPLETED).tags("tier", "small", "model", model).counter().count()).isEqualTo(1);
        assertThat(registry.find(WorkerMetrics.FAILED).counters()).isEmpty();
        assertThat(registry.get(WorkerMetrics.TASK_DURATION).tags("outcome", "completed", "model", model).timer()
                .totalTime(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(50);
        assertThat(registry.get(WorkerMetrics.LLM_DURATION).tags("tier", "small").timer().totalTime(TimeUnit.MILLISECONDS))
                .isEqualTo(20);
        assertThat(registry.get(WorkerMetrics.RAG_REQUESTS).tags("status", "empty").counter().count()).isEqualTo(1);
        assertThat(registry.get(WorkerMetrics.TOKENS).tags("direction", "input", "source", "task").counter().count())
                .isEqualTo(100);
        assertThat(registry.get(WorkerMetrics.TOKENS).tags("direction", "output", "model", model).counter().count())
                .isEqualTo(23);
    }

    @Test
    void aRefusedRestTaskCountsAsReceivedAndFailedWithItsError() {
        Exchange exchange = task("t-2", "small", null);
        exchange.setVariable(TaskVariables.SOURCE, "rest");
        exchange.setVariable(TaskVariables.FAILURE, new Failure(Failure.INVALID_TASK, "unknown domain", 400));
        metrics.recordTask(exchange, start());

        assertThat(registry.get(WorkerMetrics.RECEIVED).tags("source", "rest", "domain", "unknown").counter().count())
                .isEqualTo(1);
        assertThat(registry.get(WorkerMetrics.FAILED).tags("error", "invalid_task", "tier", "small").counter().count())
                .isEqualTo(1);
        assertThat(registry.get(WorkerMetrics.TASK_DURATION).tags("outcome", "failed").timer().count()).isEqualTo(1);
        assertThat(registry.find(WorkerMetrics.COMPLETED).counters()).isEmpty();
    }

    @Test
    void aDuplicateAnsweredFromTheTaskStoreIsNotCountedAgain() {
        Exchange exchange = task("t-3", "small", "documentation");
        metrics.received(exchange);
        metrics.received(exchange);
        exchange.setVariable(TaskStore.STORED_STATUS, "completed");
        metrics.recordTask(exchange, start());

        assertThat(registry.get(WorkerMetrics.RECEIVED).counter().count()).isEqualTo(1);
        assertThat(registry.find(WorkerMetrics.COMPLETED).counters()).isEmpty();
        assertThat(registry.find(WorkerMetrics.TASK_DURATION).timers()).isEmpty();
    }

    @Test
    void deadLettersAreCountedByError() {
        Exchange exchange = task("t-4", "large", "ui-design");
        exchange.setVariable(TaskVariables.FAILURE, new Failure(Failure.LLM_FAILED, "400", 502));
        metrics.deadLettered(exchange);
        assertThat(registry.get(WorkerMetrics.DEAD_LETTERED).tags("tier", "large", "domain", "ui-design",
                "error", "llm_failed").counter().count()).isEqualTo(1);
    }

    @Test
    void gaugesShowEveryTiersCallsInFlightAgainstItsBound() throws InterruptedException {
        try (TierSlots.Slot slot = slots.acquire("large")) {
            assertThat(registry.get(WorkerMetrics.LLM_IN_FLIGHT).tags("tier", "large").gauge().value()).isEqualTo(1);
        }
        assertThat(registry.get(WorkerMetrics.LLM_IN_FLIGHT).tags("tier", "large").gauge().value()).isZero();
        assertThat(registry.get(WorkerMetrics.LLM_LIMIT).tags("tier", "large").gauge().value())
                .isEqualTo(properties.tiers().get("large").concurrency());
        assertThat(registry.find(WorkerMetrics.QUEUE_DEPTH).gauges()).hasSize(properties.tiers().size());
    }
}
