package io.dats.worker.task;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmCallTracker;
import io.dats.worker.llm.LlmFailures;
import org.apache.camel.Exchange;
import org.apache.camel.component.jsonvalidator.JsonValidationException;
import org.apache.camel.component.jsonvalidator.NoJsonBodyValidationException;

import org.springframework.stereotype.Component;

/**
 * Turns the exception that ended a task into a {@link Failure} and the {@code task.failed} event
 * {@code {"task_id", "error", "reason", "domain", "tier", "attempts"}}.
 */
@Component("failureEvents")
public class FailureEvents {

    private static final int MAX_REASON = 2000;

    private final ObjectMapper mapper;
    private final WorkerProperties properties;

    FailureEvents(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.properties = properties;
    }

    /** Classifies the caught exception (routes keep the result in the {@code failure} variable). */
    public Failure classify(Exchange exchange) {
        Throwable cause = caught(exchange);
        String stage = exchange.getVariable(TaskVariables.STAGE, "intake", String.class);
        Failure failure = switch (stage) {
            case "intake", "validate" -> new Failure(Failure.INVALID_TASK, invalidTaskReason(cause), 400);
            case "llm" -> llmFailure(exchange, cause);
            case "output" -> new Failure(Failure.INVALID_OUTPUT,
                    "the model's output failed the output schema: " + message(cause), 502);
            case "publish" -> new Failure(Failure.PUBLISH_FAILED,
                    "the outcome could not be published: " + message(cause), 503);
            default -> new Failure(Failure.INTERNAL_ERROR, stage + " failed: " + message(cause), 500);
        };
        return failure;
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
        body.put("task_id", exchange.getVariable(TaskVariables.TASK_ID, String.class));
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, failure.httpStatus());
        return mapper.writeValueAsString(body);
    }

    /** The failure the route classified into the {@code failure} variable, or classified now. */
    private Failure failureOf(Exchange exchange) {
        Failure failure = exchange.getVariable(TaskVariables.FAILURE, Failure.class);
        return failure != null ? failure : classify(exchange);
    }

    private Failure llmFailure(Exchange exchange, Throwable cause) {
        String tierName = exchange.getVariable(TaskVariables.TIER, String.class);
        WorkerProperties.Tier tier = properties.tier(tierName);
        int attempts = exchange.getVariable(LlmCallTracker.ATTEMPTS, 0, Integer.class);
        String target = tier.provider().name().toLowerCase() + " model '" + tier.model() + "' at " + tier.baseUrl();
        if (LlmFailures.isTimeout(cause)) {
            return new Failure(Failure.LLM_TIMEOUT, "the " + target + " did not answer within " + human(tier.timeout())
                    + " (tier " + tierName + ", " + attempts + " attempt(s))", 504);
        }
        return new Failure(Failure.LLM_FAILED, "the " + target + " failed after " + attempts + " attempt(s): "
                + message(cause), 502);
    }

    private static String invalidTaskReason(Throwable cause) {
        if (cause instanceof JsonValidationException invalid && !invalid.getErrors().isEmpty()) {
            return "the task does not match the task schema: " + invalid.getErrors().stream()
                    .map(Object::toString).sorted().collect(Collectors.joining("; "));
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
        return cause instanceof TaskValidationException ? cause.getMessage() : message(cause);
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
