package io.dats.worker.task;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.dats.worker.config.WorkerProperties;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * The data a domain's Velocity template renders: {@code $body.description}, {@code $body.rag_context}, ...
 * Values are data: Velocity prints them as they are and never parses them as template source.
 */
@Component("promptModel")
public class PromptModel {

    private final WorkerProperties properties;

    PromptModel(WorkerProperties properties) {
        this.properties = properties;
    }

    public Map<String, Object> build(Exchange exchange) {
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        WorkerProperties.Domain domain = properties.domains().get(task.domain());
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("task_id", task.taskId());
        model.put("description", task.description());
        model.put("domain", task.domain());
        model.put("tier", task.tier());
        model.put("project_id", nullToEmpty(task.projectId()));
        model.put("task_context", nullToEmpty(task.context()));
        model.put("rag_context", nullToEmpty(exchange.getVariable(TaskVariables.RAG_CONTEXT, String.class)));
        model.put("rag_sources", exchange.getVariable(TaskVariables.RAG_SOURCES, List.of(), List.class));
        model.put("rag_status", exchange.getVariable(TaskVariables.RAG_STATUS, String.class));
        model.put("language", domain.language());
        model.put("guidelines", domain.guidelines());
        model.put("kind", domain.kind().id());
        model.put("image_count", task.images().size());
        return model;
    }

    private static String nullToEmpty(String value) {
        return value == null ? "" : value;
    }
}
