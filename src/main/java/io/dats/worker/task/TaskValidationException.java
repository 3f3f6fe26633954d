package io.dats.worker.task;

/** A task that cannot be executed as sent: no LLM call is made, the sender is told why. */
public class TaskValidationException extends RuntimeException {

    public TaskValidationException(String message) {
        super(message);
    }

    public TaskValidationException(String message, Throwable cause) {
        super(message, cause);
    }
}
