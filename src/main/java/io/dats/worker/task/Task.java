package io.dats.worker.task;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** The execute request of the DATS contract, as it arrives on a tier queue or on POST /api/v1/execute. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Task(
        @JsonProperty("task_id") String taskId,
        @JsonProperty("description") String description,
        @JsonProperty("domain") String domain,
        @JsonProperty("tier") String tier,
        @JsonProperty("context") String context,
        @JsonProperty("project_id") String projectId) {

    public Task withTier(String newTier) {
        return new Task(taskId, description, domain, newTier, context, projectId);
    }
}
