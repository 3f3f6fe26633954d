package io.dats.worker.intake;

import java.time.Duration;

/**
 * The queue service's backoff (seed 003): the n-th failure in a row waits n x base, at most max (5 s, 10 s, 15 s ...
 * 30 s with the defaults), for ever. Thread-safe.
 */
final class Backoff {

    private final Duration base;
    private final Duration max;
    private int failures;

    Backoff(Duration base, Duration max) {
        this.base = base;
        this.max = max;
    }

    /** Records a failure; returns the wait before the next attempt. */
    synchronized Duration failed() {
        failures++;
        return delay();
    }

    /** Records a success; returns how many failures in a row it ends. */
    synchronized int succeeded() {
        int ended = failures;
        failures = 0;
        return ended;
    }

    synchronized int failures() {
        return failures;
    }

    /** The wait that the current run of failures asks for (zero when the last call succeeded). */
    synchronized Duration delay() {
        return delayOf(failures, base, max);
    }

    static Duration delayOf(int failures, Duration base, Duration max) {
        if (failures <= 0) {
            return Duration.ZERO;
        }
        Duration step = base.multipliedBy(failures);
        return step.compareTo(max) > 0 ? max : step;
    }
}
