package io.dats.worker.llm;

import java.io.IOException;
import java.net.http.HttpTimeoutException;

import dev.langchain4j.exception.NonRetriableException;
import dev.langchain4j.exception.RetriableException;
import dev.langchain4j.exception.TimeoutException;

/** Classifies exceptions from LLM calls: transient ones are retried, timeouts are told apart. */
public final class LlmFailures {

    private LlmFailures() {
    }

    /** 5xx, 429, timeouts and I/O failures such as connection refused are worth another attempt. */
    public static boolean isTransient(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof NonRetriableException) {
                return false;
            }
            if (t instanceof RetriableException || t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    public static boolean isTimeout(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof TimeoutException || t instanceof HttpTimeoutException
                    || t instanceof java.util.concurrent.TimeoutException) {
                return true;
            }
        }
        return false;
    }

    public static boolean isLlmFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof dev.langchain4j.exception.LangChain4jException) {
                return true;
            }
        }
        return false;
    }
}
