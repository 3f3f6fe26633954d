package io.dats.worker.task;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.api.ApiAccessException;
import io.dats.worker.api.ClientGoneException;
import io.dats.worker.api.TierBusyException;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmCallException;
import io.dats.worker.llm.LlmCallTracker;
import io.dats.worker.llm.LlmFailures;
import io.dats.worker.llm.TierUnavailableException;
import org.apache.camel.Exchange;
import org.apache.camel.InvalidPayloadException;
import org.apache.camel.component.jsonvalidator.JsonValidationException;
import org.apache.camel.component.jsonvalidator.NoJsonBodyValidationException;

import org.springframework.amqp.AmqpException;
import org.springframework.stereotype.Component;

/**
 * Turns the exception that ended a task into a {@link Failure} and the {@code task.failed} event
 * {@code {"task_id", "error", "reason", "domain", "tier", "attempts"}}.
 */
@Component("failureEvents")
public class FailureEvents {

    /** Exchange variable: the REST request body as received (for the task id of a refused request). */
    public static final String REQUEST_BODY = "requestBody";

    private static final int MAX_REASON = 2000;
    private static final String OUTPUT_SCHEMA = "task-output.schema.json";

    private final ObjectMapper mapper;
    private final WorkerProperties properties;

    FailureEvents(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.properties = properties;
    }

    /**
     * Classifies the caught exception by its type, never by where it happened (routes keep the result in the
     * {@code failure} variable): an invalid request, a failed LLM call (timeout or not), an output that fails the
     * output schema, an outcome the broker did not take, anything else.
     */
    public Failure classify(Exchange exchange) {
        Throwable cause = caught(exchange);
        if (cause == null) {
            return new Failure(Failure.INTERNAL_ERROR, "the task failed without an exception", 500);
        }
        if (find(cause, TaskAbandonedException.class).isPresent()) {
            return new Failure(Failure.SHUTTING_DOWN, message(cause), 503);
        }
        Optional<TierBusyException> busy = find(cause, TierBusyException.class);
        if (busy.isPresent()) {
            return new Failure(Failure.TIER_BUSY, busy.get().getMessage(), 429);
        }
        Optional<TierUnavailableException> unavailable = find(cause, TierUnavailableException.class);
        if (unavailable.isPresent()) {
            return new Failure(Failure.TIER_UNAVAILABLE, unavailable.get().getMessage(), 503);
        }
        Optional<ApiAccessException> access = find(cause, ApiAccessException.class);
        if (access.isPresent()) {
            return new Failure(access.get().error(), access.get().getMessage(), access.get().status());
        }
        Optional<ClientGoneException> gone = find(cause, ClientGoneException.class);
        if (gone.isPresent()) {
            // nginx's "client closed request": nobody reads it, the task.failed event carries it
            return new Failure(Failure.CLIENT_DISCONNECTED, gone.get().getMessage(), 499);
        }
        Optional<LlmCallException> llm = find(cause, LlmCallException.class);
        if (llm.isPresent()) {
            return llmFailure(llm.get());
        }
        Optional<JsonValidationException> schema = find(cause, JsonValidationException.class);
        if (schema.isPresent() && isOutputSchema(schema.get())) {
            return new Failure(Failure.INVALID_OUTPUT, "the model's output failed the output schema: "
                    + schemaErrors(schema.get()), 502);
        }
        if (schema.isPresent() || isInvalidRequest(cause)) {
            return new Failure(Failure.INVALID_TASK, invalidTaskReason(cause), 400);
        }
        if (find(cause, OutcomePublishException.class).isPresent() || find(cause, AmqpException.class).isPresent()) {
            return new Failure(Failure.PUBLISH_FAILED, "the outcome could not be published: " + message(cause), 503);
        }
        return new Failure(Failure.INTERNAL_ERROR, "the task failed: " + message(cause), 500);
    }

    private static boolean isInvalidRequest(Throwable cause) {
        return find(cause, TaskValidationException.class).isPresent()
                || find(cause, JsonProcessingException.class).isPresent()
                || find(cause, NoJsonBodyValidationException.class).isPresent()
                || find(cause, InvalidPayloadException.class).isPresent();
    }

    /** Which contract a schema failure broke: the output schema's {@code $id} names it. */
    private static boolean isOutputSchema(JsonValidationException invalid) {
        return invalid.getSchema() != null && invalid.getSchema().getSchemaNode() != null
                && invalid.getSchema().getSchemaNode().path("$id").asText("").endsWith(OUTPUT_SCHEMA);
    }

    private static String schemaErrors(JsonValidationException invalid) {
        return invalid.getErrors().isEmpty() ? message(invalid)
                : invalid.getErrors().stream().map(Object::toString).sorted().collect(Collectors.joining("; "));
    }

    private static <T extends Throwable> Optional<T> find(Throwable cause, Class<T> type) {
        return LlmFailures.causeChain(cause).filter(type::isInstance).map(type::cast).findFirst();
    }

    /**
     * The dead-letter channel's first step: a task a stopping worker gave up gets no outcome; the exception goes on to
     * the listener, whose channel is closed already, so the broker hands the delivery to another worker.
     */
    public void rethrowIfAbandoned(Exchange exchange) {
        Throwable cause = caught(exchange);
        Optional<TaskAbandonedException> abandoned = cause == null ? Optional.empty() : find(cause, TaskAbandonedException.class);
        if (abandoned.isPresent()) {
            throw abandoned.get();
        }
        // the tier's circuit is open: the task is not failed, its delivery goes back to its queue (IntakeRetry)
        Optional<TierUnavailableException> deferred = cause == null ? Optional.empty() : find(cause, TierUnavailableException.class);
        if (deferred.isPresent()) {
            throw deferred.get();
        }
    }

    /** The {@code task.failed} event; task fields the exchange lacks are read leniently from the original body. */
    public String event(Exchange exchange) throws JsonProcessingException {
        Failure failure = failureOf(exchange);
        JsonNode original = lenientJson(exchange.getMessage().getBody(String.class));
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("task_id", orOriginal(exchange.getVariable(TaskVariables.TASK_ID, String.class), original, "task_id"));
        event.put("error", failure.error());
        event.put("reason", failure.reason());
        event.put("domain", orOriginal(exchange.getVariable(TaskVariables.DOMAIN, String.class), original, "domain"));
        event.put("tier", orOriginal(exchange.getVariable(TaskVariables.TIER, String.class), original, "tier"));
        event.put("attempts", exchange.getVariable(LlmCallTracker.ATTEMPTS, 0, Integer.class));
        return mapper.writeValueAsString(event);
    }

    /** The JSON error body of the REST API: {@code {"error", "detail", "task_id"}}. */
    public String restError(Exchange exchange) throws JsonProcessingException {
        Failure failure = failureOf(exchange);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", failure.error());
        body.put("detail", failure.reason());
        // the task id whenever the request had one, also when it was refused before it was read as a task
        body.put("task_id", orOriginal(exchange.getVariable(TaskVariables.TASK_ID, String.class),
                lenientJson(exchange.getVariable(REQUEST_BODY, String.class)), "task_id"));
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, failure.httpStatus());
        Throwable cause = caught(exchange);
        Optional<TierBusyException> busy = cause == null ? Optional.empty() : find(cause, TierBusyException.class);
        if (busy.isPresent()) {
            exchange.getMessage().setHeader("Retry-After", Math.max(1, busy.get().retryAfter().toSeconds()));
        }
        Optional<TierUnavailableException> unavailable = cause == null ? Optional.empty()
                : find(cause, TierUnavailableException.class);
        if (unavailable.isPresent()) {
            exchange.getMessage().setHeader("Retry-After", Math.max(1, unavailable.get().retryAfter().toSeconds()));
        }
        return mapper.writeValueAsString(body);
    }

    /** The failure the route classified into the {@code failure} variable, or classified now. */
    private Failure failureOf(Exchange exchange) {
        Failure failure = exchange.getVariable(TaskVariables.FAILURE, Failure.class);
        return failure != null ? failure : classify(exchange);
    }

    private Failure llmFailure(LlmCallException failure) {
        String tierName = failure.tier();
        WorkerProperties.Tier tier = properties.tier(tierName);
        int attempts = failure.attempts();
        Throwable cause = failure.getCause();
        String target = tier.provider().name().toLowerCase() + " model '" + tier.model() + "' at " + tier.baseUrl();
        if (LlmFailures.isTimeout(cause)) {
            return new Failure(Failure.LLM_TIMEOUT, "the " + target + " did not answer within " + human(tier.timeout())
                    + " (tier " + tierName + ", " + attempts + " attempt(s))", 504);
        }
        return new Failure(Failure.LLM_FAILED, "the " + target + " failed after " + attempts + " attempt(s): "
                + message(cause) + unreachableHint(tierName, cause), 502);
    }

    /**
     * When the model server could not be reached at all, which setting points there: the user's next step is to
     * start the server or change that setting.
     */
    private static String unreachableHint(String tierName, Throwable cause) {
        boolean unreachable = LlmFailures.causeChain(cause).anyMatch(t -> t instanceof java.net.ConnectException
                || t instanceof java.net.UnknownHostException || t instanceof java.net.NoRouteToHostException);
        return unreachable ? "; check that the model server is running, or point "
                + WorkerProperties.tierSetting(tierName, "base-url") + " at one" : "";
    }

    private static String invalidTaskReason(Throwable cause) {
        Optional<JsonValidationException> invalid = find(cause, JsonValidationException.class);
        if (invalid.isPresent() && !invalid.get().getErrors().isEmpty()) {
            return "the task does not match the task schema: " + schemaErrors(invalid.get());
        }
        Throwable unreadable = LlmFailures.causeChain(cause)
                .filter(t -> t instanceof JsonProcessingException || t instanceof NoJsonBodyValidationException)
                .findFirst().orElse(null);
        if (unreadable instanceof JsonProcessingException json) {
            return "the body is not valid JSON: " + json.getOriginalMessage();
        }
        if (unreadable != null) {
            return "the body is empty: a JSON task is expected";
        }
        Optional<TaskValidationException> refused = find(cause, TaskValidationException.class);
        return refused.isPresent() ? refused.get().getMessage() : message(cause);
    }

    private static Throwable caught(Exchange exchange) {
        Throwable cause = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        return cause != null ? cause : exchange.getException();
    }

    private static String message(Throwable cause) {
        if (cause == null) {
            return "unknown error";
        }
        List<Throwable> chain = LlmFailures.causeChain(cause).toList();
        Throwable root = chain.get(chain.size() - 1);
        StringBuilder text = new StringBuilder();
        if (chain.stream().anyMatch(java.net.ConnectException.class::isInstance)) {
            text.append("cannot connect: ");
        }
        text.append(cause.getClass().getSimpleName()).append(": ").append(cause.getMessage());
        if (root != cause) {
            text.append(" (caused by ").append(root.getClass().getSimpleName()).append(": ").append(root.getMessage()).append(')');
        }
        return text.length() > MAX_REASON ? text.substring(0, MAX_REASON) + "..." : text.toString();
    }

    private static String human(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + "s" : duration.toMillis() + "ms";
    }

    private JsonNode lenientJson(String body) {
        if (body == null) {
            return null;
        }
        try {
            return mapper.readTree(body);
        } catch (Exception e) {
            return null;
        }
    }

    private static String orOriginal(String value, JsonNode original, String field) {
        if (value != null || original == null || !original.path(field).isTextual()) {
            return value;
        }
        return original.path(field).asText();
    }
}
