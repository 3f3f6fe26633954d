package io.dats.worker.task;

/**
 * The worker gave a task up without an outcome (it is stopping and the drain budget ran out): nothing is published,
 * the delivery is not acknowledged, and the broker hands the task to another worker.
 */
public class TaskAbandonedException extends RuntimeException {

    public TaskAbandonedException(String message) {
        super(message);
    }
}
