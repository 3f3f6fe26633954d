package io.dats.worker.deadletter;

import java.util.Iterator;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Which dead letters a replay moves: {@code {"task_id"?, "error"?, "limit"?}}; an empty body or {@code {}} is all of
 * them. Both fields given means both must match. An unknown field is refused rather than ignored: a misspelt
 * {@code taskid} must not turn a one-task replay into a replay of everything.
 */
record ReplayFilter(String taskId, String error, int limit) {

    static final ReplayFilter ALL = new ReplayFilter(null, null, Integer.MAX_VALUE);
    private static final Set<String> FIELDS = Set.of("task_id", "error", "limit");

    static ReplayFilter parse(String body, ObjectMapper mapper) {
        if (body == null || body.isBlank()) {
            return ALL;
        }
        JsonNode json;
        try {
            json = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw DeadLetterApiException.badRequest("the request body is not valid JSON: " + e.getOriginalMessage());
        }
        if (json == null || !json.isObject()) {
            throw DeadLetterApiException.badRequest("the request body must be a JSON object {\"task_id\"?, \"error\"?, \"limit\"?}");
        }
        for (Iterator<String> names = json.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw DeadLetterApiException.badRequest("unknown field '" + name + "' (known: task_id, error, limit)");
            }
        }
        int limit = Integer.MAX_VALUE;
        JsonNode limitNode = json.get("limit");
        if (limitNode != null && !limitNode.isNull()) {
            if (!limitNode.canConvertToInt() || !limitNode.isIntegralNumber() || limitNode.asInt() < 1) {
                throw DeadLetterApiException.badRequest("limit must be a whole number of at least 1");
            }
            limit = limitNode.asInt();
        }
        return new ReplayFilter(text(json, "task_id"), text(json, "error"), limit);
    }

    private static String text(JsonNode json, String field) {
        JsonNode value = json.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual() || value.asText().isBlank()) {
            throw DeadLetterApiException.badRequest(field + " must be a non-empty string");
        }
        return value.asText().trim();
    }

    boolean matches(DeadLetter letter) {
        return (taskId == null || taskId.equals(letter.taskId())) && (error == null || error.equals(letter.error()));
    }
}
