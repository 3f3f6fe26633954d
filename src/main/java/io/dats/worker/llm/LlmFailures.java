package io.dats.worker.llm;

import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.util.Optional;
import java.util.stream.Stream;

import dev.langchain4j.exception.NonRetriableException;
import dev.langchain4j.exception.RetriableException;
import dev.langchain4j.exception.TimeoutException;

/** Classifies exceptions from LLM calls: transient ones are retried, timeouts are told apart. */
public final class LlmFailures {

    private LlmFailures() {
    }

    /** The failure and its causes, outermost first. */
    public static Stream<Throwable> causeChain(Throwable failure) {
        return Stream.iterate(failure, t -> t != null, t -> t.getCause() == t ? null : t.getCause());
    }

    /**
     * 5xx, 429, timeouts and I/O failures such as connection refused are worth another attempt; the outermost
     * classified exception decides (a non-retriable one wrapping an I/O failure is not retried).
     */
    public static boolean isTransient(Throwable failure) {
        Optional<Throwable> decisive = causeChain(failure)
                .filter(t -> t instanceof NonRetriableException || t instanceof RetriableException || t instanceof IOException)
                .findFirst();
        return decisive.isPresent() && !(decisive.get() instanceof NonRetriableException);
    }

    public static boolean isTimeout(Throwable failure) {
        return causeChain(failure).anyMatch(t -> t instanceof TimeoutException || t instanceof HttpTimeoutException
                || t instanceof java.util.concurrent.TimeoutException);
    }
}
