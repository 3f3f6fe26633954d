package io.dats.worker.llm;

import java.time.Duration;
import java.util.Optional;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/** The {@code retryWhile} predicate of the LLM routes: transient failures, up to the tier's max-attempts. */
@Component("llmRetryPolicy")
public class LlmRetryPolicy {

    private final WorkerProperties properties;
    private final TierCircuits circuits;

    LlmRetryPolicy(WorkerProperties properties, TierCircuits circuits) {
        this.properties = properties;
        this.circuits = circuits;
    }

    /**
     * Counts with Camel's redelivery counter, so that a failure before the model client is reached is capped too. A
     * 429/503 answer's {@code Retry-After} replaces the backoff for the next attempt (at most the tier's timeout).
     */
    public boolean shouldRetry(Exchange exchange) {
        Exception failure = exchange.getException();
        if (failure == null) {
            failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        }
        Optional<Duration> retryAfter = RetryAfter.take();
        String tier = exchange.getVariable(TaskVariables.TIER, String.class);
        // Camel counts this failure before it asks: after the first attempt failed the counter is 1
        int attemptsMade = exchange.getMessage().getHeader(Exchange.REDELIVERY_COUNTER, 1, Integer.class);
        boolean retry = failure != null && tier != null
                && attemptsMade < properties.tier(tier).maxAttempts()
                && LlmFailures.isTransient(failure)
                // no more attempts while the tier's circuit is open: the task is deferred (llmCallTracker.raiseFailure)
                && circuits.permitsCalls(tier);
        if (retry && retryAfter.isPresent()) {
            Duration wait = retryAfter.get().compareTo(properties.tier(tier).timeout()) > 0
                    ? properties.tier(tier).timeout() : retryAfter.get();
            exchange.getMessage().setHeader(Exchange.REDELIVERY_DELAY, wait.toMillis());
        } else {
            exchange.getMessage().removeHeader(Exchange.REDELIVERY_DELAY);
        }
        return retry;
    }
}
