package io.dats.worker.it;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeOtlpCollector;
import io.dats.worker.support.FakeOtlpCollector.ReceivedSpan;
import io.dats.worker.support.FakeRagServer.RagReply;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Metrics, traces and logs of the running worker: the Prometheus scrape holds every metric the Grafana dashboard
 * queries (with the tier/domain/model tags), one task is one trace across its routes with its context on the outcome
 * message and the LLM call, and the json-logs profile prints lines about a task as JSON with its keys and no prompt.
 */
@ActiveProfiles("json-logs")
// Spring Boot's tests turn metrics export and tracing off unless asked
@AutoConfigureObservability
@ExtendWith(OutputCaptureExtension.class)
class ObservabilityIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("observability");
    static final FakeOtlpCollector OTLP = new FakeOtlpCollector().start();
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final Path DASHBOARD = Path.of("deploy/grafana/llm-task-worker.json");
    /** A metric name inside a PromQL expression: the worker's, Camel's and the JVM's meters. */
    static final Pattern METRIC = Pattern.compile("\\b((?:worker|camel|jvm|process|http_server)_[a-zA-Z0-9_]+)\\b");
    static final String SECRET_PROMPT_WORDS = "zebra-quartz-ledger";

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("management.otlp.tracing.endpoint", OTLP::tracesUrl);
        registry.add("management.tracing.sampling.probability", () -> "1.0");
    }

    @Test
    void prometheusScrapeHasEveryMetricTheDashboardQueries() throws IOException {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        LLM.respondWith(call -> call.prompt().contains("FAIL-ME") ? Reply.error(400, "bad request")
                : Reply.text("Done.\n\n```python src/a.py\nprint(1)\n```\n").withUsage(100, 23));
        RAG.respondWith(request -> request.path("query").asText().contains("no context")
                ? RagReply.empty() : RagReply.context("some context", List.of("docs/a.md")));
        BROKER.publishTask("small", task("metrics-queue-ok", "code-general", "Write a function"));
        BROKER.publishTask("small", task("metrics-queue-empty-rag", "code-general", "Write it with no context"));
        BROKER.publishTask("small", task("metrics-queue-failed", "code-general", "FAIL-ME please"));
        assertThat(execute(task("metrics-rest-ok", "documentation", "Write a guide")).statusCode()).isEqualTo(200);
        assertThat(execute(task("metrics-rest-invalid", "cooking", "Bake bread")).statusCode()).isEqualTo(400);
        assertThat(send(request("/v1/infer").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"Hello\",\"tier\":\"tiny\"}")).build())
                .statusCode()).isEqualTo(200);
        outputs.await("metrics-queue-ok", EVENT_TIMEOUT);
        outputs.await("metrics-queue-empty-rag", EVENT_TIMEOUT);
        failures.await("metrics-queue-failed", EVENT_TIMEOUT);

        assertThat(send(request("/actuator/prometheus").GET().build()).statusCode())
                .as("the scrape needs the operator's credentials").isEqualTo(401);
        String scrape = await().atMost(Duration.ofSeconds(15)).until(this::scrape,
                text -> text.contains("worker_tasks_dead_lettered_total") && text.contains("status=\"empty\""));
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/observability-scrape.txt"), scrape);
        Set<String> scraped = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            if (!line.startsWith("#") && !line.isBlank()) {
                scraped.add(line.split("[{ ]", 2)[0]);
            }
        }

        Set<String> used = dashboardMetrics();
        assertThat(used).as("metrics the dashboard queries").contains(
                "worker_tasks_received_total", "worker_tasks_completed_total", "worker_tasks_failed_total",
                "worker_task_duration_seconds_bucket", "worker_llm_duration_seconds_bucket", "worker_llm_in_flight",
                "worker_llm_concurrency_limit", "worker_llm_tokens_total", "worker_rag_requests_total",
                "worker_tasks_dead_lettered_total", "worker_queue_depth", "camel_exchanges_total");
        assertThat(scraped).as("every metric of " + DASHBOARD + " is in the scrape").containsAll(used);

        for (String metric : List.of("worker_tasks_received_total", "worker_tasks_completed_total",
                "worker_tasks_failed_total", "worker_task_duration_seconds_bucket", "worker_llm_duration_seconds_bucket",
                "worker_llm_tokens_total", "worker_rag_requests_total", "worker_tasks_dead_lettered_total")) {
            assertThat(lines(scrape, metric)).as(metric).isNotEmpty().allSatisfy(line ->
                    assertThat(line).contains("tier=\"").contains("domain=\"").contains("model=\""));
        }
        assertThat(lines(scrape, "worker_tasks_completed_total"))
                .anySatisfy(line -> assertThat(line).contains("tier=\"small\"").contains("domain=\"code-general\"")
                        .contains("model=\"gemma3:12b\""));
        assertThat(lines(scrape, "worker_tasks_failed_total"))
                .anySatisfy(line -> assertThat(line).contains("error=\"llm_failed\""))
                .anySatisfy(line -> assertThat(line).contains("error=\"invalid_task\""));
        assertThat(lines(scrape, "worker_rag_requests_total"))
                .anySatisfy(line -> assertThat(line).contains("status=\"used\""))
                .anySatisfy(line -> assertThat(line).contains("status=\"empty\""));
        assertThat(lines(scrape, "worker_llm_concurrency_limit"))
                .anySatisfy(line -> assertThat(line).contains("tier=\"large\"").endsWith(" 2.0"));
        assertThat(lines(scrape, "worker_queue_depth")).hasSize(5);
        assertThat(lines(scrape, "worker_infer_calls_total"))
                .anySatisfy(line -> assertThat(line).contains("tier=\"tiny\"").contains("outcome=\"completed\""));
        assertThat(lines(scrape, "worker_infer_duration_seconds_count"))
                .anySatisfy(line -> assertThat(line).contains("tier=\"tiny\"").contains("outcome=\"completed\""));
        assertThat(lines(scrape, "worker_infer_duration_seconds_bucket")).isNotEmpty();
        assertThat(lines(scrape, "camel_exchanges_total"))
                .anySatisfy(line -> assertThat(line).contains("routeId=\"process-task\""));
    }

    @Test
    void oneTaskIsOneTraceAcrossItsRoutesWithItsContextOnTheOutcomeAndTheLlmCall() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("Done.\n\n```python src/a.py\nprint(1)\n```\n").withUsage(10, 5));
        BROKER.publishTask("small", task("traced-task", "code-general", "Write a traced function"));
        Message outcome = outputs.await("traced-task", EVENT_TIMEOUT);

        Object traceparent = outcome.getMessageProperties().getHeaders().get("traceparent");
        assertThat(traceparent).as("traceparent on task.output.created").isNotNull();
        String traceId = traceparent.toString().split("-")[1];
        FakeLlmServer.LlmCall call = LLM.calls().get(0);
        assertThat(call.headers().entrySet()).as("traceparent on the LLM call")
                .anySatisfy(header -> {
                    assertThat(header.getKey()).isEqualToIgnoringCase("traceparent");
                    assertThat(header.getValue().get(0)).contains(traceId);
                });

        List<ReceivedSpan> spans = await().atMost(Duration.ofSeconds(30)).until(() -> OTLP.spansOf(traceId),
                received -> names(received).containsAll(List.of("process-task", "run-task", "rag-context", "publish-output")));
        String all = String.join(" | ", names(spans)) + " " + spans.stream().map(s -> s.attributes().toString()).toList();
        assertThat(names(spans)).as(all)
                .anySatisfy(name -> assertThat(name).containsIgnoringCase("task.events"))
                .anySatisfy(name -> assertThat(name).startsWith("llm-small"))
                .anySatisfy(name -> assertThat(name).containsIgnoringCase("velocity"))
                .anySatisfy(name -> assertThat(name).containsIgnoringCase("langchain4j-chat"))
                .anySatisfy(name -> assertThat(name).containsIgnoringCase("POST"));
        assertThat(spans.stream().map(ReceivedSpan::traceId).distinct()).containsExactly(traceId);
    }

    @Test
    void aTaskContinuesTheTraceItsPublisherSent() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("Done.\n\n```python src/a.py\nprint(1)\n```\n").withUsage(10, 5));
        String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        BROKER.publish("task.ready.small", MessageBuilder
                .withBody(task("continued-task", "code-general", "Write it").getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json")
                .setHeader("traceparent", "00-" + traceId + "-00f067aa0ba902b7-01")
                .build());
        Message outcome = outputs.await("continued-task", EVENT_TIMEOUT);
        assertThat(outcome.getMessageProperties().getHeaders().get("traceparent").toString()).contains(traceId);
        await().atMost(Duration.ofSeconds(30)).until(() -> names(OTLP.spansOf(traceId)),
                received -> received.containsAll(List.of("process-task", "publish-output")));
    }

    @Test
    void jsonLogLinesAboutATaskCarryItsKeysAndNotItsPrompt(CapturedOutput output) {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("Done.\n\n```python src/a.py\nprint(1)\n```\n").withUsage(10, 5));
        RAG.respondWith(request -> RagReply.error(503));
        BROKER.publishTask("small", task("logged-task", "code-general", "Write " + SECRET_PROMPT_WORDS + " now"));
        outputs.await("logged-task", EVENT_TIMEOUT);

        List<JsonNode> aboutTask = await().atMost(Duration.ofSeconds(10)).until(() -> jsonLinesAbout(output, "logged-task"),
                lines -> lines.stream().anyMatch(line -> line.path("message").asText().contains("completed")));
        assertThat(aboutTask).as("received, RAG unavailable, completed").hasSizeGreaterThanOrEqualTo(3);
        for (JsonNode line : aboutTask) {
            assertThat(line.path("task_id").asText()).as(line.toString()).isEqualTo("logged-task");
            assertThat(line.path("tier").asText()).as(line.toString()).isEqualTo("small");
            assertThat(line.path("domain").asText()).as(line.toString()).isEqualTo("code-general");
            assertThat(line.path("route_id").asText()).as(line.toString()).isNotBlank();
            assertThat(line.path("trace_id").asText()).as(line.toString()).matches("[0-9a-f]{32}");
        }
        assertThat(aboutTask.stream().map(line -> line.path("trace_id").asText()).distinct()).hasSize(1);
        assertThat(output.getOut() + output.getErr()).doesNotContain(SECRET_PROMPT_WORDS);
    }

    private static List<JsonNode> jsonLinesAbout(CapturedOutput output, String taskId) {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : output.getOut().split("\n")) {
            if (line.startsWith("{") && line.contains(taskId)) {
                lines.add(parse(line));
            }
        }
        return lines;
    }

    private static List<String> names(List<ReceivedSpan> spans) {
        return spans.stream().map(ReceivedSpan::name).toList();
    }

    private String scrape() {
        String basic = Base64.getEncoder().encodeToString((ADMIN_USER + ":" + ADMIN_PASSWORD)
                .getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> response = send(request("/actuator/prometheus")
                .header("Authorization", "Basic " + basic).GET().build());
        assertThat(response.statusCode()).isEqualTo(200);
        return response.body();
    }

    private static List<String> lines(String scrape, String metric) {
        return scrape.lines().filter(line -> line.startsWith(metric + "{") || line.startsWith(metric + " ")).toList();
    }

    /** Every metric name in the dashboard's PromQL expressions (targets and template variables). */
    static Set<String> dashboardMetrics() throws IOException {
        JsonNode dashboard = parse(Files.readString(DASHBOARD));
        Set<String> names = new TreeSet<>();
        List<String> expressions = new ArrayList<>();
        dashboard.findValues("expr").forEach(expr -> expressions.add(expr.asText()));
        dashboard.path("templating").path("list").forEach(variable -> {
            JsonNode query = variable.path("query");
            expressions.add(query.isTextual() ? query.asText() : query.path("query").asText());
        });
        for (String expression : expressions) {
            Matcher matcher = METRIC.matcher(expression);
            while (matcher.find()) {
                names.add(matcher.group(1));
            }
        }
        return names;
    }

}
