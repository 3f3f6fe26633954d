package io.dats.worker.llm;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ServiceStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * One circuit breaker per tier (Resilience4j's state machine, {@code worker.tiers.<tier>.circuit-*}). Every LLM
 * attempt of a task is recorded ({@link LlmCallTracker}); outages count (connection refused, 5xx, timeouts), answers
 * such as 400 or 429 do not. When the failure rate over the last {@code circuit-window} attempts reaches
 * {@code circuit-failure-rate} %, the circuit opens:
 * <ul>
 * <li>the tier's queue intake {@code intake-<tier>} is suspended, so its tasks wait in their queue;</li>
 * <li>a task whose call is refused or failed while the circuit is open is deferred ({@link TierUnavailableException}):
 * a queued one goes back to its queue un-acknowledged, a REST caller gets 503 with {@code Retry-After};</li>
 * <li>after {@code circuit-open-for} the circuit is half-open: one probe (a one-token chat request to the tier's
 * model) decides: an answer closes the circuit and resumes the intake, an outage opens it again.</li>
 * </ul>
 * Every state change is logged at WARN. Other tiers are not affected.
 */
@Component("tierCircuits")
public class TierCircuits implements DisposableBean {

    private static final Logger LOG = LoggerFactory.getLogger(TierCircuits.class);

    private final WorkerProperties properties;
    private final ObjectProvider<CamelContext> camelContext;
    private final Map<String, Circuit> circuits = new LinkedHashMap<>();

    TierCircuits(WorkerProperties properties, ObjectProvider<CamelContext> camelContext) {
        this.properties = properties;
        this.camelContext = camelContext;
        properties.tiers().forEach((name, tier) -> circuits.put(name, new Circuit(name, tier)));
    }

    /** Whether an LLM failure is an outage of the endpoint: connection refused, 5xx, timeouts; not 4xx answers. */
    public static boolean isOutage(Throwable failure) {
        if (LlmFailures.causeChain(failure).anyMatch(t -> t instanceof RateLimitException)) {
            return false;
        }
        return LlmFailures.isTransient(failure);
    }

    /** Step of the LLM route, before the call: refuses it while the tier's circuit is not closed. */
    public void admit(Exchange exchange) {
        Circuit circuit = circuit(exchange.getVariable(TaskVariables.TIER, String.class));
        if (circuit != null && !circuit.permitsCalls()) {
            throw circuit.unavailable(null);
        }
    }

    /** REST only (before the task waits for its tier): 503 with {@code Retry-After} while the tier's circuit is open. */
    public void admitRest(Exchange exchange) {
        if ("rest".equals(exchange.getVariable(TaskVariables.SOURCE, String.class))) {
            admit(exchange);
        }
    }

    /** Whether the tier's tasks may call the model now (the circuit is closed, or the breaker is off). */
    public boolean permitsCalls(String tier) {
        Circuit circuit = circuit(tier);
        return circuit == null || circuit.permitsCalls();
    }

    /**
     * The task's LLM failure, seen when the call ended: while the tier's circuit is open it is no failure of the task
     * but of the endpoint, so the task is deferred rather than failed.
     */
    public Optional<TierUnavailableException> deferral(String tier, Throwable failure) {
        Circuit circuit = circuit(tier);
        if (circuit == null || circuit.permitsCalls()) {
            return Optional.empty();
        }
        if (failure instanceof TierUnavailableException unavailable) {
            return Optional.of(unavailable);
        }
        return isOutage(failure) ? Optional.of(circuit.unavailable(failure)) : Optional.empty();
    }

    void recordSuccess(String tier, long nanos) {
        Circuit circuit = circuit(tier);
        if (circuit != null) {
            circuit.breaker.onSuccess(nanos, TimeUnit.NANOSECONDS);
        }
    }

    void recordFailure(String tier, long nanos, Throwable failure) {
        Circuit circuit = circuit(tier);
        if (circuit != null) {
            circuit.breaker.onError(nanos, TimeUnit.NANOSECONDS, failure);
        }
    }

    /** The circuit's state: CLOSED, OPEN, HALF_OPEN (DISABLED when the tier's breaker is off). */
    public String state(String tier) {
        Circuit circuit = circuit(tier);
        return circuit == null ? "DISABLED" : circuit.breaker.getState().name();
    }

    /** How long a REST caller should wait before trying the tier again. */
    public Duration retryAfter(String tier) {
        Circuit circuit = circuit(tier);
        return circuit == null ? Duration.ofSeconds(1) : circuit.retryAfter();
    }

    /** The tiers with a circuit (those whose {@code circuit-enabled} is true). */
    public java.util.Set<String> tiers() {
        return circuits.keySet();
    }

    /**
     * Waits (at most {@code max}) until every intake lane of the tier is suspended, so that a deferred delivery put back
     * now is not handed at once to another consumer of the tier (each hand-back raises its quorum delivery count).
     */
    public void awaitIntakeHeld(String tier, Duration max) {
        Circuit circuit = circuit(tier);
        if (circuit == null) {
            return;
        }
        long deadline = System.nanoTime() + max.toNanos();
        synchronized (circuit) {
            while (!circuit.intakeSuspended && !circuit.permitsCalls() && System.nanoTime() < deadline) {
                try {
                    circuit.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Opens the tier's circuit now (operators, tests). */
    public void open(String tier) {
        Circuit circuit = circuit(tier);
        if (circuit != null) {
            circuit.breaker.transitionToOpenState();
        }
    }

    private Circuit circuit(String tier) {
        if (tier == null) {
            return null;
        }
        Circuit circuit = circuits.get(tier);
        return circuit == null || !circuit.enabled ? null : circuit;
    }

    @Override
    public void destroy() {
        circuits.values().forEach(c -> c.actions.shutdownNow());
    }

    private final class Circuit {

        final String tier;
        final boolean enabled;
        final Duration openFor;
        final CircuitBreaker breaker;
        /** Suspending and resuming the intake and probing run here, never on a task's thread. */
        final ExecutorService actions;
        volatile Instant openedAt = Instant.EPOCH;
        volatile boolean intakeHeld;
        /** Every intake lane of the tier is suspended: a delivery put back now waits in its queue. */
        volatile boolean intakeSuspended;

        Circuit(String tier, WorkerProperties.Tier settings) {
            this.tier = tier;
            this.enabled = settings.circuitEnabled();
            this.openFor = settings.circuitOpenFor();
            CircuitBreakerConfig config = CircuitBreakerConfig.custom()
                    .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                    .slidingWindowSize(settings.circuitWindow())
                    .minimumNumberOfCalls(Math.min(settings.circuitMinimumCalls(), settings.circuitWindow()))
                    .failureRateThreshold(settings.circuitFailureRate())
                    .waitDurationInOpenState(settings.circuitOpenFor())
                    .automaticTransitionFromOpenToHalfOpenEnabled(true)
                    .permittedNumberOfCallsInHalfOpenState(1)
                    // what is no outage (a 400, a 429) is neither a failure nor a success of the endpoint
                    .ignoreException(failure -> !isOutage(failure))
                    .recordException(failure -> true)
                    .build();
            this.breaker = CircuitBreaker.of("tier-" + tier, config);
            this.actions = Executors.newSingleThreadExecutor(runnable -> {
                Thread thread = new Thread(runnable, "circuit-" + tier);
                thread.setDaemon(true);
                return thread;
            });
            breaker.getEventPublisher().onStateTransition(event -> changed(event.getStateTransition()));
        }

        boolean permitsCalls() {
            CircuitBreaker.State state = breaker.getState();
            return state == CircuitBreaker.State.CLOSED || state == CircuitBreaker.State.DISABLED;
        }

        TierUnavailableException unavailable(Throwable cause) {
            return new TierUnavailableException(tier, retryAfter(), cause);
        }

        Duration retryAfter() {
            if (breaker.getState() != CircuitBreaker.State.OPEN) {
                return Duration.ofSeconds(5);
            }
            Duration left = openFor.minus(Duration.between(openedAt, Instant.now()));
            return left.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : left.plusSeconds(1);
        }

        private void changed(CircuitBreaker.StateTransition transition) {
            switch (transition.getToState()) {
                case OPEN -> {
                    openedAt = Instant.now();
                    LOG.warn("Circuit of tier {} OPEN ({} -> OPEN, failure rate {}% over the last {} attempts): intake-{} "
                                    + "and its priority lanes suspended, its tasks wait in their queue, REST calls get 503; probing in {} s",
                            tier, transition.getFromState(), Math.round(breaker.getMetrics().getFailureRate()),
                            breaker.getMetrics().getNumberOfBufferedCalls(), tier, openFor.toSeconds());
                    actions.execute(this::holdIntake);
                }
                case HALF_OPEN -> {
                    LOG.warn("Circuit of tier {} HALF_OPEN: probing the LLM endpoint", tier);
                    actions.execute(this::probe);
                }
                case CLOSED -> {
                    LOG.warn("Circuit of tier {} CLOSED ({} -> CLOSED): the LLM endpoint answers, intake-{} resumes",
                            tier, transition.getFromState(), tier);
                    actions.execute(this::releaseIntake);
                }
                default -> LOG.warn("Circuit of tier {}: {}", tier, transition);
            }
        }

        private void holdIntake() {
            synchronized (this) {
                intakeHeld = true;
                notifyAll();
            }
            CamelContext context = camelContext.getIfAvailable();
            if (context == null || !context.isStarted() || permitsCalls()) {
                return;
            }
            try {
                // every lane at once: a deferred delivery put back before its lane stops is taken again at once
                intakeRoutes().parallelStream().forEach(route -> {
                    try {
                        if (context.getRouteController().getRouteStatus(route) == ServiceStatus.Started) {
                            context.getRouteController().suspendRoute(route);
                            LOG.info("Route {} suspended (circuit open)", route);
                        }
                    } catch (Exception e) {
                        LOG.warn("Could not suspend route {}: {}", route, e.toString());
                    }
                });
            } finally {
                synchronized (this) {
                    intakeSuspended = true;
                    notifyAll();
                }
            }
        }

        private void releaseIntake() {
            synchronized (this) {
                intakeHeld = false;
                intakeSuspended = false;
            }
            CamelContext context = camelContext.getIfAvailable();
            if (context == null || !context.isStarted() || !permitsCalls()) {
                return;
            }
            for (String route : intakeRoutes()) {
                try {
                    if (context.getRouteController().getRouteStatus(route) == ServiceStatus.Suspended) {
                        context.getRouteController().resumeRoute(route);
                        LOG.info("Route {} resumed (circuit closed)", route);
                    }
                } catch (Exception e) {
                    LOG.warn("Could not resume route {}: {}", route, e.toString());
                }
            }
        }

        /** The tier's queue intakes: {@code intake-<tier>} and one per priority lane. */
        private java.util.List<String> intakeRoutes() {
            // the normal lane first: producers' task.ready.<tier> fills it
            return java.util.Arrays.stream(io.dats.worker.priority.Priority.values())
                    .sorted(java.util.Comparator.comparing(lane -> lane != io.dats.worker.priority.Priority.NORMAL))
                    .map(lane -> lane.intakeRouteId(tier))
                    .toList();
        }

        /** The half-open trial: one chat request of one output token to the tier's model. */
        private void probe() {
            CamelContext context = camelContext.getIfAvailable();
            ChatModel model = context == null ? null
                    : context.getRegistry().lookupByNameAndType(ChatModels.beanName(tier), ChatModel.class);
            if (model == null || breaker.getState() != CircuitBreaker.State.HALF_OPEN) {
                return;
            }
            try {
                breaker.executeCallable(() -> model.chat(ChatRequest.builder()
                        .messages(UserMessage.from("ping")).maxOutputTokens(1).build()));
            } catch (CallNotPermittedException e) {
                // another trial call holds the half-open permit
            } catch (Exception e) {
                if (!isOutage(e)) {
                    // the endpoint answered (with an error about the probe itself): it is up
                    breaker.transitionToClosedState();
                } else {
                    LOG.warn("Circuit of tier {}: probe failed ({}); open again for {} s", tier, e.getMessage(),
                            openFor.toSeconds());
                }
            }
        }
    }
}
