package io.dats.worker.task;

/** Names of the exchange variables the routes and beans share (variables never leave the worker as headers). */
public final class TaskVariables {

    public static final String TASK = "task";
    public static final String TASK_ID = "taskId";
    public static final String DOMAIN = "domain";
    public static final String TIER = "tier";
    /** The domain's kind of output ({@code code}, {@code docs}, {@code ui}): the pipeline's router chooses by it. */
    public static final String KIND = "kind";
    /** The domain's Velocity template file. */
    public static final String TEMPLATE = "template";
    /** Where the task came from: {@code queue} or {@code rest}. */
    public static final String SOURCE = "source";
    /** The task's priority ({@code low}, {@code normal}, {@code high}, {@code critical}): its lane, or the request's. */
    public static final String PRIORITY = "priority";
    public static final String RAG_STATUS = "ragStatus";
    public static final String RAG_CONTEXT = "ragContext";
    public static final String RAG_SOURCES = "ragSources";
    public static final String ARTIFACTS = "artifacts";
    public static final String FAILURE = "failure";

    private TaskVariables() {
    }
}
