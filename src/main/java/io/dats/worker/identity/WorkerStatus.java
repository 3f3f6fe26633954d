package io.dats.worker.identity;

import java.util.Locale;

import com.fasterxml.jackson.annotation.JsonValue;

/** Seed 001's worker status: {@code starting} → {@code ready} ⇄ {@code busy} → {@code stopped}. */
public enum WorkerStatus {
    /** The application is starting: routes, consumers or the web server are not all up yet. */
    STARTING,
    /** Up, no LLM call in flight. */
    READY,
    /** At least one LLM call in flight (any tier; queued task, REST task or infer call). */
    BUSY,
    /** Shutting down (from the first moment of the shutdown on). */
    STOPPED;

    @JsonValue
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
