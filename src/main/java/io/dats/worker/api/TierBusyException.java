package io.dats.worker.api;

import java.time.Duration;

/** A REST task for a tier whose waiting line is full: the caller gets 429 with {@code Retry-After}. */
public class TierBusyException extends RuntimeException {

    private final String tier;
    private final Duration retryAfter;

    public TierBusyException(String tier, int maxWaiting, Duration retryAfter) {
        super("tier '" + tier + "' has " + maxWaiting + " REST callers waiting already (worker.tiers." + tier
                + ".max-waiting); retry after " + retryAfter.toSeconds() + " s");
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
