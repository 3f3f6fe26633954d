package io.dats.worker.deadletter;

import java.util.Map;

/** A dead-letter request answered with an HTTP error: {@code {"error", "detail"}} plus what was done before it stopped. */
class DeadLetterApiException extends RuntimeException {

    private final int status;
    private final String error;
    private final transient Map<String, Object> done;

    DeadLetterApiException(int status, String error, String detail, Map<String, Object> done) {
        super(detail);
        this.status = status;
        this.error = error;
        this.done = done == null ? Map.of() : done;
    }

    static DeadLetterApiException badRequest(String detail) {
        return new DeadLetterApiException(400, "invalid_request", detail, null);
    }

    int status() {
        return status;
    }

    String error() {
        return error;
    }

    Map<String, Object> done() {
        return done;
    }
}
