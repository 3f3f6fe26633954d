package io.dats.worker.task;

/** The broker did not take a task's outcome (not confirmed, nacked, refused, or unreachable). */
public class OutcomePublishException extends RuntimeException {

    public OutcomePublishException(String message) {
        super(message);
    }
}
