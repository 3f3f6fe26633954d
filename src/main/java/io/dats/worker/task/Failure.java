package io.dats.worker.task;

/**
 * Why a task failed: a stable code ({@code error}), a human-readable {@code reason} and the HTTP status a REST
 * caller gets.
 */
public record Failure(String error, String reason, int httpStatus) {

    public static final String INVALID_TASK = "invalid_task";
    public static final String LLM_TIMEOUT = "llm_timeout";
    public static final String LLM_FAILED = "llm_failed";
    public static final String INVALID_OUTPUT = "invalid_output";
    public static final String PUBLISH_FAILED = "publish_failed";
    public static final String INTERNAL_ERROR = "internal_error";
    /** A stopping worker gave the task up: no event, the task goes back to its queue or the REST caller retries. */
    public static final String SHUTTING_DOWN = "shutting_down";
    public static final String TIER_BUSY = "tier_busy";
    /** The tier's circuit is open (its LLM endpoint is failing): no event, a queued task waits in its queue. */
    public static final String TIER_UNAVAILABLE = "tier_unavailable";
    public static final String UNAUTHORIZED = "unauthorized";
    public static final String FORBIDDEN = "forbidden";
    public static final String CLIENT_DISCONNECTED = "client_disconnected";

    /** Failures of the request itself get a 400 and no event: the REST caller is told directly. */
    public boolean isInvalidTask() {
        return INVALID_TASK.equals(error);
    }

    /**
     * Requests refused before they became a task (invalid, tier line full, no or wrong API key): the REST caller is
     * told directly and no {@code task.failed} is published.
     */
    public boolean isRefused() {
        return isInvalidTask() || TIER_BUSY.equals(error) || UNAUTHORIZED.equals(error) || FORBIDDEN.equals(error)
                || TIER_UNAVAILABLE.equals(error);
    }

    /** Whether the failure is published as task.failed: not for a refused request nor a task given up at shutdown. */
    public boolean isPublished() {
        return !isRefused() && !SHUTTING_DOWN.equals(error);
    }
}
