package io.dats.worker.metrics;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
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
import io.dats.worker.observability.TaskMdc;
import io.dats.worker.store.TaskStore;
import io.dats.worker.task.Failure;
import io.dats.worker.task.TaskVariables;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * The worker's own meters (one place records them all) and seed 002's {@code GET /metrics} summary built from them.
 * Prometheus scrapes the same registry at {@code /actuator/prometheus}; the names below are the Micrometer names
 * (Prometheus: dots become underscores, counters end in {@code _total}, timers in {@code _seconds_*}).
 * Tags: {@code tier}, {@code domain}, {@code model} (the tier's configured model) on every task meter.
 * <ul>
 * <li>{@code worker.tasks.received} (tier, domain, model, source): a task entered the pipeline; counted once it was
 * validated, or at its end when it was refused as invalid;</li>
 * <li>{@code worker.tasks.completed} (tier, domain, model): outcome published;</li>
 * <li>{@code worker.tasks.failed} (tier, domain, model, error): failed, both intakes, REST refusals included (their
 * {@code error} says which: invalid_task, tier_busy, unauthorized, forbidden);</li>
 * <li>{@code worker.task.duration} (tier, domain, model, outcome): timer with a percentile histogram, from the task's
 * entry into {@code process-task} to the end of its exchange (outcome published);</li>
 * <li>{@code worker.llm.duration} (tier, domain, model, outcome): timer with a percentile histogram, the task's LLM
 * call from the start of its first attempt to the end of its last (retries and back-off included);</li>
 * <li>{@code worker.llm.tokens} (tier, domain ({@code -} for infer calls), model, source (task/infer), direction
 * (input/output));</li>
 * <li>{@code worker.rag.requests} (tier, domain, model, status: used/empty/unavailable);</li>
 * <li>{@code worker.tasks.dead.lettered} (tier, domain, model, error): originals kept in the dead-letter queue;</li>
 * <li>{@code worker.llm.in.flight} and {@code worker.llm.concurrency.limit} (tier, model): gauges, LLM calls in
 * flight and the tier's bound;</li>
 * <li>{@code worker.queue.depth} (tier): gauge, tasks ready in the tier queue on the broker ({@link QueueDepths},
 * cached);</li>
 * <li>{@code worker.infer.calls} (tier, model, outcome).</li>
 * <li>{@code worker.infer.duration} (tier, model, outcome): model time of an infer call, streamed or not.</li>
 * </ul>
 * {@code tasks_queued}: tasks ready in the tier queues on the broker plus tasks waiting for their tier's bound.
 */
@Component("workerMetrics")
public class WorkerMetrics {

    public static final String TASK_DURATION = "worker.task.duration";
    public static final String LLM_DURATION = "worker.llm.duration";
    public static final String TOKENS = "worker.llm.tokens";
    public static final String INFER_CALLS = "worker.infer.calls";
    public static final String INFER_DURATION = "worker.infer.duration";
    public static final String RECEIVED = "worker.tasks.received";
    public static final String COMPLETED = "worker.tasks.completed";
    public static final String FAILED = "worker.tasks.failed";
    public static final String DEAD_LETTERED = "worker.tasks.dead.lettered";
    public static final String RAG_REQUESTS = "worker.rag.requests";
    public static final String LLM_IN_FLIGHT = "worker.llm.in.flight";
    public static final String LLM_LIMIT = "worker.llm.concurrency.limit";
    public static final String QUEUE_DEPTH = "worker.queue.depth";
    /** Set on the exchange once the task was counted as received. */
    static final String RECEIVED_MARK = "workerTaskReceived";
    private static final String UNKNOWN = "unknown";
    /** One line when a task is taken in and one when it ends (ids, tier, domain, outcome: never task or prompt text). */
    private static final Logger TASKS = LoggerFactory.getLogger("io.dats.worker.tasks");
    private static final Duration MIN_LATENCY = Duration.ofMillis(10);
    private static final Duration MAX_LATENCY = Duration.ofMinutes(30);

    private final MeterRegistry registry;
    private final WorkerProperties properties;
    private final WorkerResources resources;
    private final TierSlots slots;
    private final CamelContext camelContext;
    private final QueueDepths queueDepths;
    private final ObjectMapper mapper;

    WorkerMetrics(MeterRegistry registry, WorkerProperties properties, WorkerResources resources, TierSlots slots,
                  CamelContext camelContext, QueueDepths queueDepths, ObjectMapper mapper) {
        this.registry = registry;
        this.properties = properties;
        this.resources = resources;
        this.slots = slots;
        this.camelContext = camelContext;
        this.queueDepths = queueDepths;
        this.mapper = mapper;
        properties.tiers().forEach((tier, settings) -> {
            Gauge.builder(LLM_IN_FLIGHT, slots, s -> s.inFlight(tier)).description("LLM calls in flight")
                    .tags("tier", tier, "model", settings.model()).register(registry);
            Gauge.builder(LLM_LIMIT, settings, WorkerProperties.Tier::concurrency)
                    .description("LLM calls in flight at most (worker.tiers.<tier>.concurrency)")
                    .tags("tier", tier, "model", settings.model()).register(registry);
            Gauge.builder(QUEUE_DEPTH, queueDepths, q -> q.cached(tier))
                    .description("Tasks ready in the tier queue on the broker (refreshed at most every few seconds)")
                    .tags("tier", tier).register(registry);
        });
    }

    /** {@code process-task}, once the task is validated: it counts as received with its tier and domain. */
    public void received(Exchange exchange) {
        if (exchange.getVariable(RECEIVED_MARK) != null) {
            return;
        }
        exchange.setVariable(RECEIVED_MARK, true);
        TaskMdc.rememberTrace(exchange);
        String tier = tag(exchange.getVariable(TaskVariables.TIER, String.class));
        TASKS.info("Task {} received from {} for tier {}, domain {}", exchange.getVariable(TaskVariables.TASK_ID),
                exchange.getVariable(TaskVariables.SOURCE), tier, exchange.getVariable(TaskVariables.DOMAIN));
        Counter.builder(RECEIVED).description("Tasks taken in (queue, REST, pull, MongoDB)")
                .tags("tier", tier, "domain", tag(exchange.getVariable(TaskVariables.DOMAIN, String.class)),
                        "model", model(tier), "source", tag(exchange.getVariable(TaskVariables.SOURCE, String.class)))
                .register(registry).increment();
    }

    /** {@code keep-original}: the original message of a failed queued task is in the dead-letter queue. */
    public void deadLettered(Exchange exchange) {
        String tier = tag(exchange.getVariable(TaskVariables.TIER, String.class));
        Failure failure = exchange.getVariable(TaskVariables.FAILURE, Failure.class);
        Counter.builder(DEAD_LETTERED).description("Original messages of failed tasks kept in the dead-letter queue")
                .tags("tier", tier, "domain", tag(exchange.getVariable(TaskVariables.DOMAIN, String.class)),
                        "model", model(tier), "error", failure == null ? UNKNOWN : tag(failure.error()))
                .register(registry).increment();
    }

    /**
     * A task's exchange ended (TaskMetricsPolicy, both intakes): received (if refused before validation), completed
     * or failed, its duration by outcome, its LLM call's duration, its tokens and its RAG status. A duplicate answered
     * from the task store is not counted again.
     */
    void recordTask(Exchange exchange, long startNanos) {
        received(exchange);
        String tier = tag(exchange.getVariable(TaskVariables.TIER, String.class));
        String domain = tag(exchange.getVariable(TaskVariables.DOMAIN, String.class));
        String model = model(tier);
        Failure failure = exchange.getVariable(TaskVariables.FAILURE, Failure.class);
        boolean failed = failure != null || exchange.isFailed();
        String storedStatus = exchange.getVariable(TaskStore.STORED_STATUS, String.class);
        boolean replayed = ("completed".equals(storedStatus) || "failed".equals(storedStatus))
                && exchange.getVariable(LlmCallTracker.LLM_NANOS) == null;
        if (replayed && !failed) {
            return;
        }
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        if (failed) {
            String error = failure != null ? tag(failure.error()) : "internal_error";
            try (TaskMdc mdc = TaskMdc.open(exchange)) {
                TASKS.info("Task {} failed after {} ms: {}", exchange.getVariable(TaskVariables.TASK_ID), millis, error);
            }
            Counter.builder(FAILED).description("Tasks that failed (task.failed published or a REST error answered)")
                    .tags("tier", tier, "domain", domain, "model", model, "error", error).register(registry).increment();
        } else {
            try (TaskMdc mdc = TaskMdc.open(exchange)) {
                TASKS.info("Task {} completed in {} ms (rag {}, tokens {} in, {} out)",
                        exchange.getVariable(TaskVariables.TASK_ID), millis, exchange.getVariable(TaskVariables.RAG_STATUS),
                        exchange.getVariable(LlmCallTracker.INPUT_TOKENS), exchange.getVariable(LlmCallTracker.OUTPUT_TOKENS));
            }
            Counter.builder(COMPLETED).description("Tasks completed (task.output.created published)")
                    .tags("tier", tier, "domain", domain, "model", model).register(registry).increment();
        }
        Timer.builder(TASK_DURATION).description("Task execution time, from the pipeline's start to the outcome")
                .tags("tier", tier, "domain", domain, "model", model, "outcome", failed ? "failed" : "completed")
                .publishPercentileHistogram().minimumExpectedValue(MIN_LATENCY).maximumExpectedValue(MAX_LATENCY)
                .register(registry).record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        Long llmNanos = exchange.getVariable(LlmCallTracker.LLM_NANOS, Long.class);
        if (llmNanos != null) {
            boolean llmFailed = failure != null && failure.error() != null && failure.error().startsWith("llm_");
            Timer.builder(LLM_DURATION).description("LLM call time of a task, every attempt and back-off included")
                    .tags("tier", tier, "domain", domain, "model", model, "outcome", llmFailed ? "failed" : "completed")
                    .publishPercentileHistogram().minimumExpectedValue(MIN_LATENCY).maximumExpectedValue(MAX_LATENCY)
                    .register(registry).record(llmNanos, TimeUnit.NANOSECONDS);
        }
        String rag = exchange.getVariable(TaskVariables.RAG_STATUS, String.class);
        if (rag != null) {
            Counter.builder(RAG_REQUESTS).description("RAG lookups by result (used, empty, unavailable)")
                    .tags("tier", tier, "domain", domain, "model", model, "status", rag).register(registry).increment();
        }
        if (!failed) {
            tokens(tier, domain, "task", exchange.getVariable(LlmCallTracker.INPUT_TOKENS, 0, Integer.class),
                    exchange.getVariable(LlmCallTracker.OUTPUT_TOKENS, 0, Integer.class));
        }
    }

    /** An infer call ended after this many nanoseconds of model time (the wait for a slot excluded); usage may be null. */
    public void recordInfer(String tier, boolean ok, TokenUsage usage, long nanos) {
        Counter.builder(INFER_CALLS).description("POST /v1/infer calls")
                .tags("tier", tier, "model", model(tier), "outcome", ok ? "completed" : "failed")
                .register(registry).increment();
        Timer.builder(INFER_DURATION).description("POST /v1/infer model time, from the call to the last token")
                .tags("tier", tier, "model", model(tier), "outcome", ok ? "completed" : "failed")
                .publishPercentileHistogram().minimumExpectedValue(MIN_LATENCY).maximumExpectedValue(MAX_LATENCY)
                .register(registry).record(nanos, TimeUnit.NANOSECONDS);
        if (usage != null) {
            tokens(tier, "-", "infer", usage.inputTokenCount() == null ? 0 : usage.inputTokenCount(),
                    usage.outputTokenCount() == null ? 0 : usage.outputTokenCount());
        }
    }

    private void tokens(String tier, String domain, String source, int input, int output) {
        Counter.builder(TOKENS).description("LLM tokens").baseUnit("tokens")
                .tags("tier", tier, "domain", domain, "model", model(tier), "source", source, "direction", "input")
                .register(registry).increment(input);
        Counter.builder(TOKENS).description("LLM tokens").baseUnit("tokens")
                .tags("tier", tier, "domain", domain, "model", model(tier), "source", source, "direction", "output")
                .register(registry).increment(output);
    }

    /** The tier's configured model ({@code unknown} for a tier that is not configured). */
    private String model(String tier) {
        WorkerProperties.Tier settings = properties.tiers().get(tier);
        return settings == null ? UNKNOWN : tag(settings.model());
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
            detail.put("tasks_failed", (long) count(FAILED, ofDomain));
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

    /** Tasks ready in the tier's queues on the broker (every priority lane) (cached; 0 when it cannot be asked) plus those waiting for the bound. */
    private int queued(String tier) {
        return queueDepths.cached(tier) + TierLine.waiting(camelContext, tier) + slots.waiting(tier);
    }

    private static String tag(String value) {
        return value == null || value.isBlank() ? UNKNOWN : value;
    }
}
