package io.dats.worker.health;

import java.net.URI;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Whether an Ollama server has a tier's model: its {@code GET /api/tags} lists the models pulled on it. A server that
 * answers but lacks the model serves no tasks of that tier (every call is a 404 "model not found").
 */
public final class OllamaModels {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private OllamaModels() {
    }

    /** The model list of the Ollama server at the base URL. */
    public static URI tagsUrl(URI baseUrl) {
        String base = baseUrl.toString();
        return URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + "/api/tags");
    }

    /**
     * TRUE when the {@code /api/tags} answer lists the model ({@code name} or {@code model}; a model named without
     * a tag is {@code <name>:latest} on the server), FALSE when it does not, null when the answer is no model list.
     */
    public static Boolean lists(String tagsJson, String model) {
        if (tagsJson == null) {
            return null;
        }
        JsonNode models;
        try {
            models = MAPPER.readTree(tagsJson).path("models");
        } catch (Exception e) {
            return null;
        }
        if (!models.isArray()) {
            return null;
        }
        String wanted = model.contains(":") ? model : model + ":latest";
        for (JsonNode listed : models) {
            for (String field : new String[] {"name", "model"}) {
                String name = listed.path(field).asText("");
                if (name.equals(model) || name.equals(wanted)) {
                    return true;
                }
            }
        }
        return false;
    }
}
