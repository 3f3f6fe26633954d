package io.dats.worker.store;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/** {@code GET /api/v1/tasks/{id}} and {@code GET /api/v1/tasks?status=&tier=&limit=} over the {@link TaskStore}. */
@Component("taskStatusApi")
public class TaskStatusApi {

    static final int MAX_LIMIT = 500;
    private static final Set<String> STATUSES =
            Set.of(TaskStore.QUEUED, TaskStore.RUNNING, TaskStore.COMPLETED, TaskStore.FAILED);

    private final TaskStore store;
    private final ObjectMapper mapper;

    TaskStatusApi(TaskStore store, ObjectMapper mapper) {
        this.store = store;
        this.mapper = mapper;
    }

    public String one(Exchange exchange) throws JsonProcessingException {
        String id = exchange.getMessage().getHeader("id", String.class);
        return store.find(id)
                .map(record -> write(store.view(record)))
                .orElseGet(() -> error(exchange, 404, "not_found", "no task with id '" + id + "'", id));
    }

    public String list(Exchange exchange) throws JsonProcessingException {
        String status = exchange.getMessage().getHeader("status", String.class);
        String tier = exchange.getMessage().getHeader("tier", String.class);
        String limitText = exchange.getMessage().getHeader("limit", "50", String.class);
        if (status != null && !status.isBlank() && !STATUSES.contains(status)) {
            return error(exchange, 400, "invalid_request", "status must be one of " + STATUSES, null);
        }
        int limit;
        try {
            limit = Integer.parseInt(limitText.trim());
        } catch (NumberFormatException e) {
            return error(exchange, 400, "invalid_request", "limit must be a number from 1 to " + MAX_LIMIT, null);
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            return error(exchange, 400, "invalid_request", "limit must be a number from 1 to " + MAX_LIMIT, null);
        }
        List<Map<String, Object>> tasks = store.recent(status, tier, limit).stream().map(store::view).toList();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("tasks", tasks);
        body.put("count", tasks.size());
        return mapper.writeValueAsString(body);
    }

    private String write(Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private String error(Exchange exchange, int status, String error, String detail, String taskId) {
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("detail", detail);
        body.put("task_id", taskId);
        return write(body);
    }
}
