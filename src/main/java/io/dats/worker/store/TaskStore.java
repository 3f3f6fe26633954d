package io.dats.worker.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.task.Task;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Task state in a database (H2 file by default, PostgreSQL in production; schema by Flyway, db/migration), one row per
 * task id whichever intake it came by. The same rows make a task id idempotent:
 * <ul>
 * <li>a task that completed is not run again: its stored output is returned (REST) or republished (queue);</li>
 * <li>a task that failed is not run again for a duplicate delivery from a queue (its stored task.failed is
 * republished), so one task id never ends with two different outcomes; an explicit retry runs it again: a REST call,
 * or a message replayed from the dead-letter queue (header {@code x-replayed});</li>
 * <li>a completion wins over a failure of a concurrent copy: a failure recorded after a completion is not published,
 * the completion is republished instead.</li>
 * </ul>
 * The outcome is recorded before it is published, so a worker that crashes in between republishes the same outcome.
 */
@Component("taskStore")
public class TaskStore {

    public static final String QUEUED = "queued";
    public static final String RUNNING = "running";
    public static final String COMPLETED = "completed";
    public static final String FAILED = "failed";
    /** The output is recorded and being published: a redelivery publishes it again, a failed publish is a failure. */
    public static final String PUBLISHING = "publishing";

    /** Variables the routes read: the outcome a task already had, and its status. */
    public static final String STORED_STATUS = "storedStatus";
    public static final String STORED_OUTCOME = "storedOutcome";
    /** Header of a message an operator replayed from the dead-letter queue: a failed task may run again. */
    public static final String REPLAYED_HEADER = "x-replayed";

    private static final Logger LOG = LoggerFactory.getLogger(TaskStore.class);

    private final JdbcClient jdbc;
    private final ObjectMapper mapper;

    TaskStore(JdbcClient jdbc, ObjectMapper mapper) {
        this.jdbc = jdbc;
        this.mapper = mapper;
    }

    /** One task's stored state. */
    public record TaskRecord(String taskId, String status, String source, String tier, String domain, int runs,
                             OffsetDateTime queuedAt, OffsetDateTime startedAt, OffsetDateTime completedAt,
                             String result, String error) {
    }

    /**
     * Marks a validated task running, or, when it already has its final outcome, leaves that in the
     * {@code storedStatus}/{@code storedOutcome} variables so that the route republishes it instead of running again.
     */
    public void begin(Exchange exchange) {
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        String source = exchange.getVariable(TaskVariables.SOURCE, "queue", String.class);
        Optional<TaskRecord> existing = find(task.taskId());
        if (existing.isPresent()) {
            TaskRecord record = existing.get();
            boolean replayed = exchange.getMessage().getHeader(REPLAYED_HEADER) != null;
            boolean hasOutput = (COMPLETED.equals(record.status()) || PUBLISHING.equals(record.status()))
                    && record.result() != null;
            if (hasOutput
                    || (FAILED.equals(record.status()) && "queue".equals(source) && !replayed && record.error() != null)) {
                LOG.info("Task {} already {}: its outcome is {} again, the task is not run again", task.taskId(),
                        record.status(), "rest".equals(source) ? "returned" : "published");
                exchange.setVariable(STORED_STATUS, hasOutput ? COMPLETED : FAILED);
                exchange.setVariable(STORED_OUTCOME, hasOutput ? record.result() : record.error());
                return;
            }
        }
        Timestamp now = Timestamp.from(Instant.now());
        // a task id seen before is run again (a task submitted over REST, POST /api/v1/tasks, was queued by it and
        // keeps that source); a new one (the common case) is inserted without a first UPDATE that would find no row
        int updated = existing.isEmpty() ? 0 : jdbc.sql("UPDATE worker_task SET status = ?, "
                        + "source = CASE WHEN status = ? THEN source ELSE ? END, tier = ?, domain = ?, runs = runs + 1, "
                        + "started_at = ?, completed_at = NULL, error = NULL WHERE task_id = ?")
                .params(RUNNING, QUEUED, source, task.tier(), task.domain(), now, task.taskId()).update();
        if (updated == 0) {
            try {
                jdbc.sql("INSERT INTO worker_task (task_id, status, source, tier, domain, runs, queued_at, started_at) "
                                + "VALUES (?, ?, ?, ?, ?, 1, ?, ?)")
                        .params(task.taskId(), RUNNING, source, task.tier(), task.domain(), now, now).update();
            } catch (DuplicateKeyException concurrentCopy) {
                jdbc.sql("UPDATE worker_task SET runs = runs + 1, started_at = ? WHERE task_id = ?")
                        .params(now, task.taskId()).update();
            }
        }
    }

    /** What {@link #enqueue} did: queued the task ({@code fresh}: a new id), or left the record it already has. */
    public record Enqueued(boolean queued, boolean fresh, TaskRecord existing) {
    }

    /**
     * Records a task submitted over REST ({@code POST /api/v1/tasks}) as queued before it is published, so that its
     * state is {@code queued} until a worker takes it. A new id is inserted; a failed one is queued again (an explicit
     * retry); any other known id (queued, running, completed) is left as it is and returned: it is not run again.
     */
    public Enqueued enqueue(Task task) {
        Timestamp now = Timestamp.from(Instant.now());
        try {
            jdbc.sql("INSERT INTO worker_task (task_id, status, source, tier, domain, runs, queued_at) "
                            + "VALUES (?, ?, ?, ?, ?, 0, ?)")
                    .params(task.taskId(), QUEUED, "rest", task.tier(), task.domain(), now).update();
            return new Enqueued(true, true, null);
        } catch (DuplicateKeyException known) {
            int requeued = jdbc.sql("UPDATE worker_task SET status = ?, source = ?, tier = ?, domain = ?, queued_at = ?, "
                            + "started_at = NULL, completed_at = NULL WHERE task_id = ? AND status = ?")
                    .params(QUEUED, "rest", task.tier(), task.domain(), now, task.taskId(), FAILED).update();
            if (requeued == 1) {
                return new Enqueued(true, false, null);
            }
            return new Enqueued(false, false, find(task.taskId()).orElse(null));
        }
    }

    /**
     * The publish of a task {@link #enqueue} queued was refused: a new id is forgotten, a failed one is failed again
     * (its last error kept), unless a worker already took it.
     */
    public void unqueue(String taskId, boolean fresh) {
        if (fresh) {
            jdbc.sql("DELETE FROM worker_task WHERE task_id = ? AND status = ?").params(taskId, QUEUED).update();
        } else {
            jdbc.sql("UPDATE worker_task SET status = ? WHERE task_id = ? AND status = ?")
                    .params(FAILED, taskId, QUEUED).update();
        }
    }

    /**
     * Records the output document (the body) before it is published (status publishing). If a concurrent copy of the
     * task completed first, its stored output is the body to publish, so that every event of the task says the same.
     */
    public String complete(Exchange exchange) {
        String taskId = exchange.getVariable(TaskVariables.TASK_ID, String.class);
        String output = exchange.getMessage().getBody(String.class);
        int updated = jdbc.sql("UPDATE worker_task SET status = ?, completed_at = ?, result = ?, error = NULL "
                        + "WHERE task_id = ? AND status <> ?")
                .params(PUBLISHING, Timestamp.from(Instant.now()), output, taskId, COMPLETED).update();
        if (updated == 0) {
            Optional<TaskRecord> record = find(taskId);
            if (record.isPresent() && COMPLETED.equals(record.get().status()) && record.get().result() != null) {
                LOG.info("Task {} was completed by another copy first: its stored output is published", taskId);
                return record.get().result();
            }
        }
        return output;
    }

    /** The output was published (confirmed by the broker): the task is completed. */
    public void published(Exchange exchange) {
        String taskId = exchange.getVariable(TaskVariables.TASK_ID, String.class);
        if (taskId != null) {
            jdbc.sql("UPDATE worker_task SET status = ? WHERE task_id = ? AND status = ?")
                    .params(COMPLETED, taskId, PUBLISHING).update();
        }
    }

    /**
     * Records a failure (the {@code failureEvent} variable) unless the task completed (a publish of its own output
     * that failed is a failure: the status is still publishing): then the stored output is left
     * in {@code storedOutcome} (status completed) for the route to publish instead of the failure.
     */
    public void fail(Exchange exchange) {
        String taskId = exchange.getVariable(TaskVariables.TASK_ID, String.class);
        if (taskId == null) {
            return; // a message without a readable task id: nothing to key it by
        }
        String event = exchange.getVariable("failureEvent", String.class);
        // the task's own output whose publish failed stays the task's result: a redelivery publishes it, not the model
        int publishing = jdbc.sql("UPDATE worker_task SET error = ? WHERE task_id = ? AND status = ?")
                .params(event, taskId, PUBLISHING).update();
        if (publishing > 0) {
            return;
        }
        int updated = jdbc.sql("UPDATE worker_task SET status = ?, completed_at = ?, error = ? "
                        + "WHERE task_id = ? AND status <> ?")
                .params(FAILED, Timestamp.from(Instant.now()), event, taskId, COMPLETED).update();
        if (updated == 0) {
            Optional<TaskRecord> record = find(taskId);
            if (record.isPresent() && COMPLETED.equals(record.get().status())) {
                LOG.info("Task {} failed here but another copy completed it: the completion is published again", taskId);
                exchange.setVariable(STORED_STATUS, COMPLETED);
                exchange.setVariable(STORED_OUTCOME, record.get().result());
            }
        }
    }

    /**
     * Deletes the rows of tasks that ended, completed or failed, before {@code cutoff} (their {@code completed_at});
     * queued, running and publishing tasks are kept whatever their age. Returns how many were deleted.
     */
    public int purgeEndedBefore(Instant cutoff) {
        return jdbc.sql("DELETE FROM worker_task WHERE status IN (?, ?) AND completed_at < ?")
                .params(COMPLETED, FAILED, Timestamp.from(cutoff)).update();
    }

    public Optional<TaskRecord> find(String taskId) {
        return jdbc.sql("SELECT * FROM worker_task WHERE task_id = ?").param(taskId).query(TaskStore::record).optional();
    }

    /** Recent tasks, newest first, optionally of one status and tier. */
    public List<TaskRecord> recent(String status, String tier, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM worker_task WHERE 1 = 1");
        Map<String, Object> params = new LinkedHashMap<>();
        if (status != null && !status.isBlank()) {
            sql.append(" AND status = :status");
            params.put("status", status);
        }
        if (tier != null && !tier.isBlank()) {
            sql.append(" AND tier = :tier");
            params.put("tier", tier);
        }
        sql.append(" ORDER BY queued_at DESC LIMIT :limit");
        params.put("limit", limit);
        return jdbc.sql(sql.toString()).params(params).query(TaskStore::record).list();
    }

    /** The JSON view of a task ({@code GET /api/v1/tasks/{id}}). */
    public Map<String, Object> view(TaskRecord record) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("task_id", record.taskId());
        view.put("status", PUBLISHING.equals(record.status()) ? RUNNING : record.status());
        view.put("source", record.source());
        view.put("tier", record.tier());
        view.put("domain", record.domain());
        view.put("runs", record.runs());
        view.put("queued_at", text(record.queuedAt()));
        view.put("started_at", text(record.startedAt()));
        view.put("completed_at", text(record.completedAt()));
        view.put("result", json(record.result()));
        view.put("error", json(record.error()));
        return view;
    }

    private JsonNode json(String text) {
        if (text == null) {
            return null;
        }
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            return mapper.getNodeFactory().textNode(text);
        }
    }

    private static String text(OffsetDateTime time) {
        return time == null ? null : time.withOffsetSameInstant(ZoneOffset.UTC).toString();
    }

    private static TaskRecord record(ResultSet rs, int row) throws SQLException {
        return new TaskRecord(rs.getString("task_id"), rs.getString("status"), rs.getString("source"),
                rs.getString("tier"), rs.getString("domain"), rs.getInt("runs"), time(rs, "queued_at"),
                time(rs, "started_at"), time(rs, "completed_at"), rs.getString("result"), rs.getString("error"));
    }

    private static OffsetDateTime time(ResultSet rs, String column) throws SQLException {
        Timestamp timestamp = rs.getTimestamp(column);
        return timestamp == null ? null : timestamp.toInstant().atOffset(ZoneOffset.UTC);
    }
}
