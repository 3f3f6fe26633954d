package io.dats.worker.store;

import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import io.dats.worker.broker.OutcomePublisher;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.priority.Priority;
import io.dats.worker.priority.TierLines;
import io.dats.worker.task.FailureEvents;
import io.dats.worker.task.Task;
import io.dats.worker.task.TaskValidationException;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.core.QueueInformation;
import org.springframework.stereotype.Component;

/**
 * {@code POST /api/v1/tasks} (seed 002): queues a validated, authorized task on its tier's priority lane
 * ({@code task.ready.<tier>} for normal, {@code task.ready.<tier>.<priority>} otherwise) and answers 202
 * {@code {"task_id", "status": "queued", "position", "priority", "tier"}} with {@code Location: /api/v1/tasks/{id}}.
 * The task is recorded as queued before it is published (mandatory, confirmed by the broker); a publish the broker
 * refuses undoes the record and fails the request (503 {@code publish_failed}): the caller knows the task was not
 * taken. A known task id is not queued again: a completed one is answered with its stored state (200), a queued or
 * running one with its state (202); a failed one is queued again (an explicit retry, like a REST execute).
 */
@Component("taskSubmission")
public class TaskSubmission {

    private static final Logger LOG = LoggerFactory.getLogger(TaskSubmission.class);

    private final WorkerProperties properties;
    private final TaskStore store;
    private final OutcomePublisher publisher;
    private final AmqpAdmin admin;
    private final ObjectMapper mapper;

    TaskSubmission(WorkerProperties properties, TaskStore store, OutcomePublisher publisher, AmqpAdmin admin,
                   ObjectMapper mapper) {
        this.properties = properties;
        this.store = store;
        this.publisher = publisher;
        this.admin = admin;
        this.mapper = mapper;
    }

    /** The request's {@code priority}: absent or null is normal; anything but the four names is refused (400). */
    public Priority priority(Exchange exchange) throws JsonProcessingException {
        JsonNode body = mapper.readTree(exchange.getVariable(FailureEvents.REQUEST_BODY, String.class));
        JsonNode value = body.path("priority");
        if (value.isMissingNode() || value.isNull()) {
            return Priority.NORMAL;
        }
        if (!value.isTextual() || !Priority.ids().contains(value.asText())) {
            throw new TaskValidationException("priority must be one of " + Priority.ids() + ", not " + value);
        }
        Priority priority = Priority.of(value.asText());
        exchange.setVariable(TaskVariables.PRIORITY, priority.id());
        return priority;
    }

    /** Queues the task (the {@code task} variable, the request body as published) and answers for it. */
    public String submit(Exchange exchange) throws JsonProcessingException {
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        Priority priority = priority(exchange);
        String tier = task.tier();
        TaskStore.Enqueued enqueued = store.enqueue(task);
        if (!enqueued.queued()) {
            return known(exchange, task, priority, enqueued.existing());
        }
        int position = position(exchange, tier, priority);
        String key = properties.broker().readyRoutingKey(tier, priority);
        byte[] body = exchange.getVariable(FailureEvents.REQUEST_BODY, String.class).getBytes(StandardCharsets.UTF_8);
        AMQP.BasicProperties message = new AMQP.BasicProperties.Builder()
                .contentType("application/json")
                .messageId(task.taskId())
                .deliveryMode(2)
                .timestamp(new Date())
                .build();
        try {
            publisher.send(properties.broker().exchange(), key, message, body);
        } catch (RuntimeException refused) {
            store.unqueue(task.taskId(), enqueued.fresh());
            throw refused;
        }
        LOG.info("Task {} queued on {} ({} priority, position {})", task.taskId(), key, priority.id(), position);
        return answer(exchange, 202, task.taskId(), TaskStore.QUEUED, position, priority, tier);
    }

    private String known(Exchange exchange, Task task, Priority priority, TaskStore.TaskRecord record)
            throws JsonProcessingException {
        if (record == null) {
            // gone between the insert and the read (a refused publish of a concurrent request): try again
            return submit(exchange);
        }
        String status = TaskStore.PUBLISHING.equals(record.status()) ? TaskStore.RUNNING : record.status();
        LOG.info("Task {} is already {}: not queued again", task.taskId(), status);
        if (TaskStore.COMPLETED.equals(status)) {
            exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, 200);
            exchange.getMessage().setHeader("Location", location(task.taskId()));
            return mapper.writeValueAsString(store.view(record));
        }
        int position = TaskStore.QUEUED.equals(status) ? position(exchange, record.tier(), priority) : 0;
        return answer(exchange, 202, task.taskId(), status, position, priority, record.tier());
    }

    /**
     * 1 + the tasks that will start before this one as far as this worker can tell: the ready messages of the tier's
     * lanes of the same or a higher priority, and the tasks of the same or a higher priority waiting in its line.
     */
    int position(Exchange exchange, String tier, Priority priority) {
        int ahead = 0;
        for (Priority lane : Priority.values()) {
            if (lane.level() >= priority.level()) {
                QueueInformation info = admin.getQueueInfo(properties.broker().queue(tier, lane));
                ahead += info == null ? 0 : info.getMessageCount();
            }
        }
        ahead += TierLines.waitingAtOrAbove(exchange.getContext(), tier, priority);
        return ahead + 1;
    }

    private String answer(Exchange exchange, int status, String taskId, String state, int position, Priority priority,
                          String tier) throws JsonProcessingException {
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        exchange.getMessage().setHeader("Location", location(taskId));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("task_id", taskId);
        body.put("status", state);
        body.put("position", position);
        body.put("priority", priority.id());
        body.put("tier", tier);
        return mapper.writeValueAsString(body);
    }

    static String location(String taskId) {
        return "/api/v1/tasks/" + java.net.URLEncoder.encode(taskId, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
