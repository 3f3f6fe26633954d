package io.dats.worker.task;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmCallTracker;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * Builds the {@code task.output.created} document from the model's answer (the message body) and the artifacts the
 * kind's branch extracted (the {@code artifacts} variable).
 */
@Component("outputDocument")
public class OutputDocument {

    private final ObjectMapper mapper;
    private final WorkerProperties properties;

    OutputDocument(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.properties = properties;
    }

    /** Deterministic: a redelivered task yields the same artifact id. */
    public static String artifactId(String taskId) {
        return "art-" + UUID.nameUUIDFromBytes(("artifact:" + taskId).getBytes(StandardCharsets.UTF_8));
    }

    public String build(Exchange exchange) throws JsonProcessingException {
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        String answer = exchange.getMessage().getBody(String.class);
        List<?> artifacts = exchange.getVariable(TaskVariables.ARTIFACTS, List.of(), List.class);

        Map<String, Object> output = new LinkedHashMap<>();
        output.put("content", answer == null ? "" : answer);
        output.put("artifacts", artifacts);

        Map<String, Object> document = new LinkedHashMap<>();
        document.put("task_id", task.taskId());
        document.put("artifact_id", artifactId(task.taskId()));
        document.put("status", "completed");
        document.put("domain", task.domain());
        document.put("tier", task.tier());
        document.put("model", exchange.getVariable(LlmCallTracker.MODEL, properties.tier(task.tier()).model(), String.class));
        document.put("output", output);
        document.put("tokens_used", exchange.getVariable(LlmCallTracker.TOKENS_USED, 0, Integer.class));
        document.put("execution_time_ms", Math.max(0, exchange.getClock().elapsed()));
        document.put("rag", exchange.getVariable(TaskVariables.RAG_STATUS, String.class));
        return mapper.writeValueAsString(document);
    }
}
