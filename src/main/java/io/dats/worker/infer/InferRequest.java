package io.dats.worker.infer;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.config.WorkerProperties;

/**
 * A checked {@code POST /v1/infer} body (seed 001): {@code prompt} (non-blank string), {@code max_tokens} (integer,
 * 1 to the tier's {@code max-output-tokens}; that limit when absent), {@code temperature} (number 0 to 2; the tier's
 * setting when absent), {@code stream} (boolean, false when absent) and {@code tier} (a configured tier;
 * {@code worker.infer.default-tier} when absent). Other fields are ignored.
 */
public record InferRequest(String prompt, int maxTokens, Double temperature, boolean stream, String tier) {

    static final double MAX_TEMPERATURE = 2.0;

    /** Reads and checks a body; {@link InvalidInferRequest} says what is wrong. */
    public static InferRequest read(JsonNode body, WorkerProperties properties, String defaultTier) {
        if (body == null || !body.isObject()) {
            throw new InvalidInferRequest("the body must be a JSON object");
        }
        JsonNode prompt = body.get("prompt");
        if (prompt == null || prompt.isNull()) {
            throw new InvalidInferRequest("prompt is required");
        }
        if (!prompt.isTextual() || prompt.asText().isBlank()) {
            throw new InvalidInferRequest("prompt must be a non-empty string");
        }
        String tier = defaultTier;
        JsonNode tierNode = body.get("tier");
        if (tierNode != null && !tierNode.isNull()) {
            if (!tierNode.isTextual()) {
                throw new InvalidInferRequest("tier must be a string");
            }
            tier = tierNode.asText();
        }
        if (!properties.tiers().containsKey(tier)) {
            throw new InvalidInferRequest("unknown tier '" + tier + "'; configured tiers: " + properties.tiers().keySet());
        }
        int limit = properties.tier(tier).maxOutputTokens();
        int maxTokens = limit;
        JsonNode maxTokensNode = body.get("max_tokens");
        if (maxTokensNode != null && !maxTokensNode.isNull()) {
            if (!maxTokensNode.isIntegralNumber() || !maxTokensNode.canConvertToInt()) {
                throw new InvalidInferRequest("max_tokens must be an integer");
            }
            maxTokens = maxTokensNode.intValue();
            if (maxTokens < 1 || maxTokens > limit) {
                throw new InvalidInferRequest("max_tokens must be between 1 and " + limit
                        + " (worker.tiers." + tier + ".max-output-tokens)");
            }
        }
        Double temperature = null;
        JsonNode temperatureNode = body.get("temperature");
        if (temperatureNode != null && !temperatureNode.isNull()) {
            if (!temperatureNode.isNumber()) {
                throw new InvalidInferRequest("temperature must be a number");
            }
            temperature = temperatureNode.doubleValue();
            if (temperature < 0 || temperature > MAX_TEMPERATURE) {
                throw new InvalidInferRequest("temperature must be between 0 and " + MAX_TEMPERATURE);
            }
        }
        boolean stream = false;
        JsonNode streamNode = body.get("stream");
        if (streamNode != null && !streamNode.isNull()) {
            if (!streamNode.isBoolean()) {
                throw new InvalidInferRequest("stream must be a boolean");
            }
            stream = streamNode.booleanValue();
        }
        return new InferRequest(prompt.asText(), maxTokens, temperature, stream, tier);
    }

    /** A body {@code POST /v1/infer} refuses with 400. */
    public static final class InvalidInferRequest extends RuntimeException {
        InvalidInferRequest(String detail) {
            super(detail);
        }
    }
}
