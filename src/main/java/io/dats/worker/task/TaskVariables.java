package io.dats.worker.task;

/** Names of the exchange variables the routes and beans share (variables never leave the worker as headers). */
public final class TaskVariables {

    public static final String TASK = "task";
    public static final String TASK_ID = "taskId";
    public static final String DOMAIN = "domain";
    public static final String TIER = "tier";
    /** Where the task came from: {@code queue} or {@code rest}. */
    public static final String SOURCE = "source";
    /** The pipeline step that was running: validate, rag, prompt, llm, output, publish. */
    public static final String STAGE = "stage";
    public static final String RAG_STATUS = "ragStatus";
    public static final String RAG_CONTEXT = "ragContext";
    public static final String RAG_SOURCES = "ragSources";
    public static final String PROMPT = "prompt";
    public static final String FAILURE = "failure";

    private TaskVariables() {
    }
}
