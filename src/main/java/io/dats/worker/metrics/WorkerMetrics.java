package io.dats.worker.metrics;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.model.output.TokenUsage;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmCallTracker;
import io.dats.worker.llm.TierLine;
import io.dats.worker.llm.TierSlots;
import io.dats.worker.task.TaskVariables;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;

import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * Seed 002's {@code GET /metrics} summary, built from Micrometer (the same registry as
 * {@code /actuator/metrics}): the routes' {@code worker.tasks.completed} (tier, domain) and
 * {@code worker.tasks.failed} (tier, error) counters, plus the meters recorded here:
 * <ul>
 * <li>{@code worker.task.duration}: a timer per task, tags tier, domain, outcome (completed/failed), from the
 * task's entry into {@code process-task} to the end of its exchange (outcome published);</li>
 * <li>{@code worker.llm.tokens}: counter, tags tier, domain ({@code -} for infer calls), source (task/infer),
 * direction (input/output);</li>
 * <li>{@code worker.infer.calls}: counter, tags tier, outcome.</li>
 * </ul>
 * {@code tasks_queued}: tasks ready in the tier queues on the broker plus tasks waiting for their tier's bound.
 */
@Component("workerMetrics")
public class WorkerMetrics {

    public static final String TASK_DURATION = "worker.task.duration";
    public static final String TOKENS = "worker.llm.tokens";
    public static final String INFER_CALLS = "worker.infer.calls";
    static final String COMPLETED = "worker.tasks.completed";
    static final String FAILED = "worker.tasks.failed";
    private static final String UNKNOWN = "unknown";

    private final MeterRegistry registry;
    private final WorkerProperties properties;
    private final WorkerResources resources;
    private final TierSlots slots;
    private final CamelContext camelContext;
    private final ObjectProvider<AmqpAdmin> amqpAdmin;
    private final ObjectMapper mapper;

    WorkerMetrics(MeterRegistry registry, WorkerProperties properties, WorkerResources resources, TierSlots slots,
                  CamelContext camelContext, ObjectProvider<AmqpAdmin> amqpAdmin, ObjectMapper mapper) {
        this.registry = registry;
        this.properties = properties;
        this.resources = resources;
        this.slots = slots;
        this.camelContext = camelContext;
        this.amqpAdmin = amqpAdmin;
        this.mapper = mapper;
    }

    /** A task's exchange ended (TaskMetricsPolicy): its duration by outcome, and its tokens. */
    void recordTask(Exchange exchange, long startNanos) {
        String tier = tag(exchange.getVariable(TaskVariables.TIER, String.class));
        String domain = tag(exchange.getVariable(TaskVariables.DOMAIN, String.class));
        boolean failed = exchange.getVariable(TaskVariables.FAILURE) != null || exchange.isFailed();
        Timer.builder(TASK_DURATION).description("Task execution time, from the pipeline's start to the outcome")
                .tags("tier", tier, "domain", domain, "outcome", failed ? "failed" : "completed")
                .register(registry).record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        if (!failed) {
            tokens(tier, domain, "task", exchange.getVariable(LlmCallTracker.INPUT_TOKENS, 0, Integer.class),
                    exchange.getVariable(LlmCallTracker.OUTPUT_TOKENS, 0, Integer.class));
        }
    }

    /** An infer call ended; usage may be null. */
    public void recordInfer(String tier, boolean ok, TokenUsage usage) {
        Counter.builder(INFER_CALLS).description("POST /v1/infer calls").tags("tier", tier, "outcome", ok ? "completed" : "failed")
                .register(registry).increment();
        if (usage != null) {
            tokens(tier, "-", "infer", usage.inputTokenCount() == null ? 0 : usage.inputTokenCount(),
                    usage.outputTokenCount() == null ? 0 : usage.outputTokenCount());
        }
    }

    private void tokens(String tier, String domain, String source, int input, int output) {
        Counter.builder(TOKENS).description("LLM tokens").baseUnit("tokens")
                .tags("tier", tier, "domain", domain, "source", source, "direction", "input")
                .register(registry).increment(input);
        Counter.builder(TOKENS).description("LLM tokens").baseUnit("tokens")
                .tags("tier", tier, "domain", domain, "source", source, "direction", "output")
                .register(registry).increment(output);
    }

    /** {@code GET /metrics} (routes/worker-contract.camel.yaml). */
    public String report(Exchange exchange) throws JsonProcessingException {
        return mapper.writeValueAsString(summary());
    }

    public Map<String, Object> summary() {
        Map<String, Integer> queued = new LinkedHashMap<>();
        properties.tiers().keySet().forEach(tier -> queued.put(tier, queued(tier)));

        Map<String, Object> body = new LinkedHashMap<>();
        body.put("tasks_completed", (long) count(COMPLETED, m -> true));
        body.put("tasks_failed", (long) count(FAILED, m -> true));
        body.put("tasks_queued", queued.values().stream().mapToInt(Integer::intValue).sum());
        body.put("average_execution_time", averageSeconds(m -> "completed".equals(m.getId().getTag("outcome"))));
        body.put("uptime_seconds", resources.uptimeSeconds());
        body.put("cpu_cores", resources.cpuCores());
        body.put("memory_total_gb", resources.memoryTotalGb());
        body.put("active_tasks", resources.activeTasks());

        Map<String, Object> tiers = new LinkedHashMap<>();
        properties.tiers().forEach((tier, settings) -> {
            Predicate<Meter> ofTier = m -> tier.equals(m.getId().getTag("tier"));
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("model", settings.model());
            detail.put("tasks_completed", (long) count(COMPLETED, ofTier));
            detail.put("tasks_failed", (long) count(FAILED, ofTier));
            detail.put("tasks_queued", queued.get(tier));
            detail.put("in_flight", slots.inFlight(tier));
            detail.put("concurrency", settings.concurrency());
            detail.put("average_execution_time", averageSeconds(
                    ofTier.and(m -> "completed".equals(m.getId().getTag("outcome")))));
            detail.put("infer_calls", (long) count(INFER_CALLS, ofTier));
            detail.put("tokens", tokens(ofTier));
            tiers.put(tier, detail);
        });
        body.put("tiers", tiers);

        Set<String> domainNames = new TreeSet<>(properties.domains().keySet());
        registry.find(TASK_DURATION).meters().stream().map(m -> m.getId().getTag("domain"))
                .filter(java.util.Objects::nonNull).forEach(domainNames::add);
        Map<String, Object> domains = new LinkedHashMap<>();
        for (String domain : domainNames) {
            Predicate<Meter> ofDomain = m -> domain.equals(m.getId().getTag("domain"));
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("tasks_completed", (long) count(COMPLETED, ofDomain));
            // worker.tasks.failed has no domain tag: failures by domain come from the task timer
            detail.put("tasks_failed", registry.find(TASK_DURATION).tag("outcome", "failed").timers().stream()
                    .filter(ofDomain::test).mapToLong(Timer::count).sum());
            detail.put("average_execution_time", averageSeconds(
                    ofDomain.and(m -> "completed".equals(m.getId().getTag("outcome")))));
            detail.put("tokens", tokens(ofDomain.and(m -> "task".equals(m.getId().getTag("source")))));
            domains.put(domain, detail);
        }
        body.put("domains", domains);
        return body;
    }

    private double count(String name, Predicate<Meter> filter) {
        return registry.find(name).counters().stream().filter(filter::test).mapToDouble(Counter::count).sum();
    }

    private Map<String, Long> tokens(Predicate<Meter> filter) {
        Map<String, Long> tokens = new LinkedHashMap<>();
        long input = (long) count(TOKENS, filter.and(m -> "input".equals(m.getId().getTag("direction"))));
        long output = (long) count(TOKENS, filter.and(m -> "output".equals(m.getId().getTag("direction"))));
        tokens.put("input", input);
        tokens.put("output", output);
        tokens.put("total", input + output);
        return tokens;
    }

    /** Mean of the matching task timers, in seconds (two decimals); 0 before any task. */
    private double averageSeconds(Predicate<Meter> filter) {
        long count = 0;
        double seconds = 0;
        for (Timer timer : registry.find(TASK_DURATION).timers()) {
            if (filter.test(timer)) {
                count += timer.count();
                seconds += timer.totalTime(TimeUnit.SECONDS);
            }
        }
        return count == 0 ? 0.0 : Math.round(seconds / count * 100) / 100.0;
    }

    /**
     * Tasks ready in the tier's queues on the broker (every priority lane; 0 when it cannot be asked) plus those
     * waiting for the bound.
     */
    private int queued(String tier) {
        int onBroker = 0;
        AmqpAdmin admin = amqpAdmin.getIfAvailable();
        if (admin != null) {
            for (io.dats.worker.priority.Priority lane : io.dats.worker.priority.Priority.values()) {
                try {
                    Properties info = admin.getQueueProperties(properties.broker().queue(tier, lane));
                    Object count = info == null ? null
                            : info.get(org.springframework.amqp.rabbit.core.RabbitAdmin.QUEUE_MESSAGE_COUNT);
                    onBroker += count instanceof Number number ? number.intValue() : 0;
                } catch (RuntimeException e) {
                    // not askable now: counts 0
                }
            }
        }
        return onBroker + TierLine.waiting(camelContext, tier) + slots.waiting(tier);
    }

    private static String tag(String value) {
        return value == null || value.isBlank() ? UNKNOWN : value;
    }
}
