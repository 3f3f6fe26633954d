package io.dats.worker.rag;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.Task;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/** The RAG service's request: {@code {"task_id", "query", "domain", "project_id", "top_k"}}. */
@Component("ragRequest")
public class RagRequestBuilder {

    private final ObjectMapper mapper;
    private final int topK;

    RagRequestBuilder(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.topK = properties.rag().topK();
    }

    public String build(Exchange exchange) throws JsonProcessingException {
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("task_id", task.taskId());
        request.put("query", task.description());
        request.put("domain", task.domain());
        request.put("project_id", task.projectId());
        request.put("top_k", topK);
        return mapper.writeValueAsString(request);
    }
}
