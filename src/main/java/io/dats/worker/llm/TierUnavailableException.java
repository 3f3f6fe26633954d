package io.dats.worker.llm;

import java.time.Duration;

/**
 * The tier's circuit is open: its LLM endpoint is failing, so the task is not run now. A queued task goes back to its
 * queue un-acknowledged (never to the dead-letter queue); a REST caller gets 503 with {@code Retry-After}.
 */
public class TierUnavailableException extends RuntimeException {

    private final String tier;
    private final Duration retryAfter;

    public TierUnavailableException(String tier, Duration retryAfter, Throwable cause) {
        super("the LLM endpoint of tier " + tier + " is failing (its circuit is open); the task waits"
                + (cause == null ? "" : " (last failure: " + cause.getMessage() + ")"), cause);
        this.tier = tier;
        this.retryAfter = retryAfter;
    }

    public String tier() {
        return tier;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}
