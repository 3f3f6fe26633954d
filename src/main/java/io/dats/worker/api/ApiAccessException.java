package io.dats.worker.api;

/** A task endpoint called without a valid API key (401) or with a key that may not use the task's tier (403). */
public class ApiAccessException extends RuntimeException {

    private final int status;

    public ApiAccessException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public String error() {
        return status == 401 ? "unauthorized" : "forbidden";
    }
}
