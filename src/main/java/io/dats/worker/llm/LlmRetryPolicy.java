package io.dats.worker.llm;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/** The {@code retryWhile} predicate of the LLM routes: transient failures, up to the tier's max-attempts. */
@Component("llmRetryPolicy")
public class LlmRetryPolicy {

    private final WorkerProperties properties;

    LlmRetryPolicy(WorkerProperties properties) {
        this.properties = properties;
    }

    public boolean shouldRetry(Exchange exchange) {
        Exception failure = exchange.getException();
        if (failure == null) {
            failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        }
        String tier = exchange.getVariable(TaskVariables.TIER, String.class);
        int attempts = exchange.getVariable(LlmCallTracker.ATTEMPTS, 0, Integer.class);
        return failure != null && tier != null
                && attempts < properties.tier(tier).maxAttempts()
                && LlmFailures.isTransient(failure);
    }
}
