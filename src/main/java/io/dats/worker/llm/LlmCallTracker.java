package io.dats.worker.llm;

import dev.langchain4j.model.chat.listener.ChatModelErrorContext;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelRequestContext;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.output.TokenUsage;
import io.dats.worker.api.ClientGoneException;
import io.dats.worker.api.RestLine;
import io.dats.worker.task.TaskAbandonedException;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * Captures what camel-langchain4j-chat does not expose: attempts, token usage and the answering model.
 * LangChain4j calls listeners on the thread that calls the model, which is the thread routing the exchange,
 * so {@link #begin(Exchange)} binds the exchange to that thread and every attempt is recorded as exchange variables.
 */
@Component("llmCallTracker")
public class LlmCallTracker implements ChatModelListener {

    public static final String ATTEMPTS = "llmAttempts";
    public static final String TOKENS_USED = "tokensUsed";
    public static final String INPUT_TOKENS = "inputTokens";
    public static final String OUTPUT_TOKENS = "outputTokens";
    public static final String MODEL = "llmModel";
    public static final String FAILURE = "llmFailure";
    /** Set when the LLM route ran to its end, with an answer or with its final failure. */
    public static final String COMPLETED = "llmCompleted";
    /** Nanoseconds from the start of the first attempt to the end of the last (the worker.llm.duration timer). */
    public static final String LLM_NANOS = "llmNanos";
    private static final String STARTED = "llmStarted";

    private static final String ATTEMPT_STARTED = "llmAttemptStarted";

    private final ThreadLocal<Exchange> current = new ThreadLocal<>();
    private final TierCircuits circuits;

    LlmCallTracker(TierCircuits circuits) {
        this.circuits = circuits;
    }

    /**
     * Called right before the langchain4j-chat endpoint; redeliveries of that endpoint stay on this thread. A REST
     * task leaves its tier's waiting line here ({@link RestLine}); one whose caller has gone is not called.
     */
    public void begin(Exchange exchange) {
        if (!RestLine.start(exchange)) {
            // the REST caller disconnected while waiting: no call, and the exchange stops here (the route-stop flag is
            // copied back to the waiting caller, so its pipeline publishes nothing); the failure is kept for the record
            exchange.setVariable(ATTEMPTS, 0);
            exchange.setVariable(FAILURE, new ClientGoneException(exchange.getVariable(TaskVariables.TIER, String.class)));
            exchange.setRouteStop(true);
            return;
        }
        exchange.setVariable(ATTEMPTS, 0);
        exchange.removeVariable(FAILURE);
        exchange.removeVariable(COMPLETED);
        exchange.setVariable(STARTED, System.nanoTime());
        current.set(exchange);
    }


    /** Called after the call, whether it succeeded or failed for good. */
    public void end(Exchange exchange) {
        exchange.setVariable(COMPLETED, true);
        Long started = exchange.getVariable(STARTED, Long.class);
        if (started != null) {
            exchange.setVariable(LLM_NANOS, System.nanoTime() - started);
        }
        if (current.get() == exchange) {
            current.remove();
        }
    }

    /**
     * The LLM route's last attempt failed and will not be retried: keeps the failure for the caller (the route itself
     * fails, so it is counted as failed) and stops counting.
     */
    public void fail(Exchange exchange) {
        exchange.setVariable(FAILURE, exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class));
        end(exchange);
    }

    /**
     * In the caller: the LLM route's exchange came back failed. Its error is taken over as the {@code llmFailure}
     * variable (raised afresh by {@link #raiseFailure}), and the error-handler marks copied back from the LLM route
     * (exhausted, handled, failure handled) are cleared, so that the caller's own error policy treats the new failure as its own.
     */
    public void caught(Exchange exchange) {
        if (exchange.getVariable(FAILURE) == null) {
            exchange.setVariable(FAILURE, exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class));
        }
        exchange.setVariable(COMPLETED, true);
        exchange.getExchangeExtension().setRedeliveryExhausted(false);
        exchange.getExchangeExtension().setErrorHandlerHandled(null);
        exchange.getExchangeExtension().setFailureHandled(false);
        exchange.removeProperty(Exchange.EXCEPTION_CAUGHT);
        exchange.removeProperty(Exchange.FAILURE_ENDPOINT);
        exchange.removeProperty(Exchange.FAILURE_ROUTE_ID);
    }

    /**
     * Raises the LLM route's final failure (kept in {@code llmFailure}) in the calling route, where the intake's
     * error policy (dead-letter channel or REST error) handles it.
     */
    public void raiseFailure(Exchange exchange) throws Exception {
        Exception failure = exchange.getVariable(FAILURE, Exception.class);
        if (failure != null) {
            exchange.removeVariable(FAILURE);
            // while the tier's circuit is open the endpoint failed, not the task: it waits instead of failing
            java.util.Optional<TierUnavailableException> deferred =
                    circuits.deferral(exchange.getVariable(TaskVariables.TIER, String.class), failure);
            if (deferred.isPresent()) {
                throw deferred.get();
            }
            throw new LlmCallException(exchange.getVariable(TaskVariables.TIER, String.class),
                    exchange.getVariable(ATTEMPTS, 0, Integer.class), failure);
        }
        if (!exchange.getVariable(COMPLETED, false, Boolean.class)) {
            // the wait for the tier's line ended without the call's result: the caller's thread was interrupted
            // (a stopping worker whose drain budget ran out); there is no outcome to publish
            throw new TaskAbandonedException("the LLM call of task " + exchange.getVariable(TaskVariables.TASK_ID)
                    + " did not complete: the worker is stopping");
        }
    }

    @Override
    public void onRequest(ChatModelRequestContext context) {
        Exchange exchange = current.get();
        if (exchange != null) {
            exchange.setVariable(ATTEMPTS, exchange.getVariable(ATTEMPTS, 0, Integer.class) + 1);
            exchange.setVariable(ATTEMPT_STARTED, System.nanoTime());
        }
    }

    private long attemptNanos(Exchange exchange) {
        Long started = exchange.getVariable(ATTEMPT_STARTED, Long.class);
        return started == null ? 0 : System.nanoTime() - started;
    }

    @Override
    public void onResponse(ChatModelResponseContext context) {
        Exchange exchange = current.get();
        if (exchange == null) {
            return;
        }
        circuits.recordSuccess(exchange.getVariable(TaskVariables.TIER, String.class), attemptNanos(exchange));
        TokenUsage usage = context.chatResponse().tokenUsage();
        int input = usage == null || usage.inputTokenCount() == null ? 0 : usage.inputTokenCount();
        int output = usage == null || usage.outputTokenCount() == null ? 0 : usage.outputTokenCount();
        int total = usage == null || usage.totalTokenCount() == null ? input + output : usage.totalTokenCount();
        exchange.setVariable(INPUT_TOKENS, input);
        exchange.setVariable(OUTPUT_TOKENS, output);
        exchange.setVariable(TOKENS_USED, total);
        String model = context.chatResponse().modelName();
        if (model != null && !model.isBlank()) {
            exchange.setVariable(MODEL, model);
        }
    }

    @Override
    public void onError(ChatModelErrorContext context) {
        // the attempt is already counted; Camel's error handler decides whether to retry; the tier's circuit learns
        // of it (an outage counts, a 400 does not)
        Exchange exchange = current.get();
        if (exchange != null) {
            circuits.recordFailure(exchange.getVariable(TaskVariables.TIER, String.class), attemptNanos(exchange),
                    context.error());
        }
    }
}
