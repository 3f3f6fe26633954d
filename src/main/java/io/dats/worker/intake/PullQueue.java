package io.dats.worker.intake;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * The queue service's protocol (seed 003) for routes/pull-queue.camel.yaml: {@code GET {url}/tasks/next} (200 = one
 * task, 204 or an empty body = no work), {@code POST {url}/tasks/{task_id}/complete} with the output document and
 * {@code POST {url}/tasks/{task_id}/fail} with the task.failed event, {@code X-API-Key} on each when configured. Every
 * call that does not get an answer (connection refused, timeout, 5xx, 408, 429) is one failure of the shared
 * {@link Backoff}; the route waits {@link #backoffDelay} before the next call. Keeps the state {@code /health} shows.
 */
@Component("pullQueue")
public class PullQueue implements IntakeStatus {

    /** Exchange variables of the pull routes. */
    public static final String RESULT = "pullResult";
    public static final String REPORT = "pullReport";
    public static final String REPORT_DELIVERED = "pullReportDelivered";

    static final String TASK = "task";
    static final String NONE = "none";
    static final String UNREACHABLE = "unreachable";

    private static final Logger LOG = LoggerFactory.getLogger(PullQueue.class);

    private final PullProperties properties;
    private final TierRoom tierRoom;
    private final ObjectMapper mapper;
    private final String workerId;
    private final Backoff backoff;
    private final HttpClient http;
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong refusedReports = new AtomicLong();
    private volatile String lastError;
    private volatile Instant lastErrorAt;
    private volatile Instant lastAnswerAt;
    private volatile String pendingReport;

    PullQueue(PullProperties properties, TierRoom tierRoom, ObjectMapper mapper, IntakeSwitches switches,
              io.dats.worker.config.WorkerProperties worker) {
        if (properties.enabled()) {
            check(properties, worker);
        }
        this.properties = properties;
        this.tierRoom = tierRoom;
        this.mapper = mapper;
        this.workerId = switches.workerId();
        this.backoff = new Backoff(properties.backoffBase(), properties.backoffMax());
        this.http = HttpClient.newBuilder().connectTimeout(properties.timeout()).version(HttpClient.Version.HTTP_1_1).build();
    }

    /** A wrong URL or tier fails the start, not the pull loop at its first poll. */
    static void check(PullProperties properties, io.dats.worker.config.WorkerProperties worker) {
        URI url;
        try {
            url = URI.create(properties.baseUrl() + "/tasks/next");
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("worker.pull.url '" + properties.url() + "' is not a URL: " + e.getMessage());
        }
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme())) {
            throw new IllegalStateException("worker.pull.url '" + properties.url() + "' must be an http or https URL");
        }
        for (String tier : properties.tiers()) {
            if (!worker.tiers().containsKey(tier)) {
                throw new IllegalStateException("worker.pull.tiers: unknown tier '" + tier + "', expected some of "
                        + worker.tiers().keySet());
            }
        }
    }

    /** Waits until each tier the queue's tasks may need has a free slot under its bound (false: the worker stops). */
    public boolean awaitRoom(Exchange exchange) {
        return tierRoom.awaitRoom(properties.tiers());
    }

    /**
     * One {@code GET /tasks/next}. Sets {@value #RESULT}: {@code task} (the body is the task, {@code taskId} its id),
     * {@code none} or {@code unreachable}.
     */
    public void next(Exchange exchange) {
        // the loop reuses its exchange: each task starts clean (the pipeline reads variables such as the tier)
        clear(exchange);
        if (stopping(exchange)) {
            // a stopping worker takes no new task (the loop ends at its next turn)
            exchange.setVariable(RESULT, NONE);
            return;
        }
        HttpResponse<String> response;
        try {
            response = http.send(request("/tasks/next").GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            failure("GET /tasks/next", describe(e));
            exchange.setVariable(RESULT, UNREACHABLE);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            exchange.setVariable(RESULT, NONE);
            return;
        }
        int status = response.statusCode();
        if (status == 204 || (status == 200 && (response.body() == null || response.body().isBlank()))) {
            answered();
            exchange.setVariable(RESULT, NONE);
        } else if (status == 200) {
            answered();
            String taskId = taskIdOf(response.body());
            exchange.getMessage().setBody(response.body());
            exchange.setVariable(TaskVariables.TASK_ID, taskId);
            exchange.setVariable(RESULT, TASK);
            LOG.info("Pulled task {} from {} (worker {})", taskId, properties.baseUrl(), workerId);
        } else {
            failure("GET /tasks/next", "HTTP " + status + " " + abbreviate(response.body()));
            exchange.setVariable(RESULT, UNREACHABLE);
        }
    }

    static boolean stopping(Exchange exchange) {
        return exchange.getContext().isStopping() || exchange.getContext().isStopped();
    }

    /** The pause after a poll that found no work. */
    public long intervalMillis(Exchange exchange) {
        return properties.interval().toMillis();
    }

    /** Drops what the previous task left on the loop's exchange: headers, variables, the caught exception. */
    static void clear(Exchange exchange) {
        exchange.getMessage().removeHeaders("*");
        exchange.getMessage().setBody(null);
        new java.util.ArrayList<>(exchange.getVariables().keySet()).forEach(exchange::removeVariable);
        exchange.removeProperty(Exchange.EXCEPTION_CAUGHT);
        exchange.removeProperty(Exchange.FAILURE_ENDPOINT);
        exchange.removeProperty(Exchange.FAILURE_ROUTE_ID);
        exchange.setException(null);
    }

    /** The wait before the next call: n x base after the n-th failure in a row, at most the maximum. */
    public long backoffDelay(Exchange exchange) {
        return backoff.delay().toMillis();
    }

    /** Before a report: what it is ({@code complete} or {@code fail}); the body is what it carries. */
    public void startReport(Exchange exchange, String kind) {
        exchange.setVariable(REPORT, kind);
        exchange.setVariable(REPORT_DELIVERED, false);
        pendingReport = kind + " " + exchange.getVariable(TaskVariables.TASK_ID, String.class);
    }

    /**
     * One attempt to deliver the report in the body. Sets {@value #REPORT_DELIVERED}: true once the queue service
     * answered 2xx, or refused it for good (another 4xx: retrying would not change its answer; logged).
     */
    public void report(Exchange exchange) {
        String kind = exchange.getVariable(REPORT, String.class);
        String taskId = exchange.getVariable(TaskVariables.TASK_ID, String.class);
        String what = "POST /tasks/" + taskId + "/" + kind;
        if (taskId == null || taskId.isBlank()) {
            LOG.error("The queue service handed out a task without task_id; its {} report cannot be addressed: {}",
                    kind, abbreviate(exchange.getMessage().getBody(String.class)));
            delivered(exchange, kind, false);
            return;
        }
        String body = exchange.getMessage().getBody(String.class);
        HttpResponse<String> response;
        try {
            response = http.send(request("/tasks/" + URLEncoder.encode(taskId, StandardCharsets.UTF_8).replace("+", "%20")
                            + "/" + kind)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body == null ? "{}" : body)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            failure(what, describe(e));
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            answered();
            LOG.info("Reported task {} as {} to {}", taskId, kind, properties.baseUrl());
            delivered(exchange, kind, true);
        } else if (status >= 500 || status == 408 || status == 429) {
            failure(what, "HTTP " + status + " " + abbreviate(response.body()));
        } else {
            answered();
            refusedReports.incrementAndGet();
            LOG.error("The queue service refused {} with HTTP {} {} (not retried: its answer would not change)",
                    what, status, abbreviate(response.body()));
            delivered(exchange, kind, false);
        }
    }

    /** After the report loop: a report still undelivered here was cut short by a stopping worker. */
    public void reportUndelivered(Exchange exchange) {
        LOG.error("The worker stopped before the queue service took the {} report of task {}; it was: {}",
                exchange.getVariable(REPORT), exchange.getVariable(TaskVariables.TASK_ID),
                abbreviate(exchange.getMessage().getBody(String.class)));
        pendingReport = null;
    }

    private void delivered(Exchange exchange, String kind, boolean counted) {
        exchange.setVariable(REPORT_DELIVERED, true);
        pendingReport = null;
        if (counted) {
            ("complete".equals(kind) ? completed : failed).incrementAndGet();
        }
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(properties.baseUrl() + path))
                .timeout(properties.timeout())
                .header("Accept", "application/json")
                .header("X-Worker-Id", workerId);
        if (properties.hasApiKey()) {
            builder.header("X-API-Key", properties.apiKey());
        }
        return builder;
    }

    private void answered() {
        lastAnswerAt = Instant.now();
        int ended = backoff.succeeded();
        if (ended > 0) {
            LOG.info("Queue service {} answers again after {} failed call(s)", properties.baseUrl(), ended);
        }
    }

    /** One failed call: one log line per backoff step. */
    private void failure(String what, String error) {
        Duration wait = backoff.failed();
        lastError = what + ": " + error;
        lastErrorAt = Instant.now();
        LOG.warn("Queue service {} failed ({}), failure {} in a row; next call in {} ms", properties.baseUrl(), lastError,
                backoff.failures(), wait.toMillis());
    }

    private String taskIdOf(String body) {
        try {
            JsonNode json = mapper.readTree(body);
            return json != null && json.path("task_id").isTextual() ? json.path("task_id").asText() : null;
        } catch (Exception e) {
            return null;
        }
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message);
    }

    private static String abbreviate(String text) {
        if (text == null) {
            return "";
        }
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }

    @Override
    public String name() {
        return "pull_queue";
    }

    @Override
    public boolean enabled() {
        return properties.enabled();
    }

    /** {@code url}, {@code state} (unknown | reachable | backing_off), the last error, counters. */
    @Override
    public Map<String, Object> status() {
        Map<String, Object> status = new LinkedHashMap<>();
        int failures = backoff.failures();
        status.put("url", properties.enabled() ? properties.baseUrl() : null);
        status.put("worker_id", workerId);
        status.put("state", failures > 0 ? "backing_off" : lastAnswerAt == null ? "unknown" : "reachable");
        status.put("consecutive_failures", failures);
        status.put("backoff_ms", backoff.delay().toMillis());
        status.put("last_error", lastError);
        status.put("last_error_at", lastErrorAt == null ? null : lastErrorAt.toString());
        status.put("last_answer_at", lastAnswerAt == null ? null : lastAnswerAt.toString());
        status.put("report_pending", pendingReport);
        status.put("reported_complete", completed.get());
        status.put("reported_fail", failed.get());
        status.put("reports_refused", refusedReports.get());
        return status;
    }
}
