package io.dats.worker.task;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The execute request of the DATS contract, as it arrives on a tier queue or on POST /api/v1/execute.
 * {@code images} are {@code data:image/...;base64,...} URIs handed to vision models.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Task(
        @JsonProperty("task_id") String taskId,
        @JsonProperty("description") String description,
        @JsonProperty("domain") String domain,
        @JsonProperty("tier") String tier,
        @JsonProperty("context") String context,
        @JsonProperty("project_id") String projectId,
        @JsonProperty("images") List<String> images) {

    public Task {
        images = images == null ? List.of() : List.copyOf(images);
    }

    public Task(String taskId, String description, String domain, String tier, String context, String projectId) {
        this(taskId, description, domain, tier, context, projectId, List.of());
    }

    public Task withTier(String newTier) {
        return new Task(taskId, description, domain, newTier, context, projectId, images);
    }
}
