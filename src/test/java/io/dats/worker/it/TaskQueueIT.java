package io.dats.worker.it;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.Message;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code POST /api/v1/tasks} on a real broker: a task queued on its tier's priority lane, its state {@code queued}
 * until a worker takes it, then completed; the same task id not run again over REST nor from the queue; every
 * refusal as a JSON error (invalid body or priority, keys, a publish the broker refuses); the priority order of a
 * tier with a backlog; and the API keys' tier rule on {@code POST /v1/infer}.
 */
class TaskQueueIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("task-queue");
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final String FULL_KEY = "full-" + java.util.UUID.randomUUID();
    static final String TINY_KEY = "tiny-" + java.util.UUID.randomUUID();
    /** The measured tier: two LLM calls at once, four queue consumers per lane (so tasks wait in the worker's line). */
    static final int CONCURRENCY = 2;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.api.keys.full.key", () -> FULL_KEY);
        registry.add("worker.api.keys.full.tiers", () -> "*");
        registry.add("worker.api.keys.tiny.key", () -> TINY_KEY);
        registry.add("worker.api.keys.tiny.tiers", () -> "tiny");
        registry.add("worker.tiers.small.concurrency", () -> CONCURRENCY);
        registry.add("worker.tiers.small.consumers", () -> 4);
    }

    @Autowired
    CamelContext camelContext;

    HttpResponse<String> submit(Map<String, Object> task, String key) {
        HttpRequest.Builder request = request("/api/v1/tasks").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json(task)));
        if (key != null) {
            request.header("X-API-Key", key);
        }
        return send(request.build());
    }

    HttpResponse<String> submitText(String body, String contentType) {
        return send(request("/api/v1/tasks").header("Content-Type", contentType).header("X-API-Key", FULL_KEY)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    JsonNode state(String taskId) {
        HttpResponse<String> response = send(request("/api/v1/tasks/" + taskId).header("X-API-Key", FULL_KEY).GET().build());
        return response.statusCode() == 404 ? null : parse(response.body());
    }

    static Map<String, Object> task(String id, String domain, String description, String tier, String priority) {
        Map<String, Object> task = new LinkedHashMap<>();
        task.put("task_id", id);
        task.put("domain", domain);
        task.put("description", description);
        if (tier != null) {
            task.put("tier", tier);
        }
        if (priority != null) {
            task.put("priority", priority);
        }
        return task;
    }

    @Test
    void queuesATaskThatIsQueuedUntilAWorkerTakesItAndNeverRunsACompletedTaskIdAgain() throws Exception {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        camelContext.getRouteController().stopRoute("intake-coding-high");
        HttpResponse<String> queued;
        try {
            queued = submit(task("queue-once", "code-general", "Create fibonacci function", "coding", "high"), FULL_KEY);
            assertThat(queued.statusCode()).isEqualTo(202);
            assertThat(queued.headers().firstValue("Location")).hasValue("/api/v1/tasks/queue-once");
            JsonNode answer = parse(queued.body());
            assertThat(answer.path("task_id").asText()).isEqualTo("queue-once");
            assertThat(answer.path("status").asText()).isEqualTo("queued");
            assertThat(answer.path("position").asInt()).isEqualTo(1);
            assertThat(answer.path("priority").asText()).isEqualTo("high");
            assertThat(answer.path("tier").asText()).isEqualTo("coding");
            assertThat(BROKER.messageCount("worker-service.coding.high")).isEqualTo(1);

            JsonNode before = state("queue-once");
            assertThat(before.path("status").asText()).isEqualTo("queued");
            assertThat(before.path("source").asText()).isEqualTo("rest");
            assertThat(before.path("queued_at").asText()).matches("\\d{4}-.*Z");
            assertThat(before.path("started_at").isNull()).isTrue();

            HttpResponse<String> twice = submit(task("queue-once", "code-general", "Create fibonacci function", "coding",
                    "high"), FULL_KEY);
            assertThat(twice.statusCode()).as("a queued task id is not queued twice").isEqualTo(202);
            assertThat(parse(twice.body()).path("status").asText()).isEqualTo("queued");
            assertThat(BROKER.messageCount("worker-service.coding.high")).isEqualTo(1);
            assertThat(LLM.calls()).isEmpty();
        } finally {
            camelContext.getRouteController().startRoute("intake-coding-high");
        }

        JsonNode output = outputs.awaitJson("queue-once", TIMEOUT);
        await().atMost(TIMEOUT).until(() -> "completed".equals(state("queue-once").path("status").asText()));
        JsonNode done = state("queue-once");
        assertThat(done.path("result")).isEqualTo(output);
        assertThat(done.path("runs").asInt()).isEqualTo(1);
        assertThat(done.path("source").asText()).isEqualTo("rest");
        assertThat(LLM.calls()).hasSize(1);

        // the completed task id again: over REST its stored state is the answer, from the queue its output again
        HttpResponse<String> again = submit(task("queue-once", "code-general", "Create fibonacci function", "coding",
                "critical"), FULL_KEY);
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(again.headers().firstValue("Location")).hasValue("/api/v1/tasks/queue-once");
        assertThat(parse(again.body()).path("status").asText()).isEqualTo("completed");
        assertThat(parse(again.body()).path("result")).isEqualTo(output);
        BROKER.publishTask("coding", json(task("queue-once", "code-general", "Create fibonacci function", null, null)));
        await().atMost(TIMEOUT).until(() -> outputs.of("queue-once").size() == 2);
        assertThat(parse(TestBroker.body(outputs.of("queue-once").get(1)))).isEqualTo(output);
        assertThat(LLM.calls()).as("the model ran once for four requests").hasSize(1);
    }

    @Test
    void refusesWhatItCannotQueueWithJsonErrors() {
        EventInbox.events(BROKER, "task.output.created");
        Map<String, Object> valid = task("queue-refused", "code-general", "Create fibonacci function", null, null);

        Map<String, Object> badPriority = new LinkedHashMap<>(valid);
        badPriority.put("priority", "urgent");
        assertError(submit(badPriority, FULL_KEY), 400, "invalid_task", "priority");
        badPriority.put("priority", 3);
        assertError(submit(badPriority, FULL_KEY), 400, "invalid_task", "priority");
        assertError(submitText("{not json", "application/json"), 400, "invalid_task", "JSON");
        Map<String, Object> noDomain = new LinkedHashMap<>(valid);
        noDomain.put("domain", "cooking");
        assertError(submit(noDomain, FULL_KEY), 400, "invalid_task", "cooking");
        assertError(submitText(json(valid), "text/plain"), 415, "unsupported_media_type", "application/json");
        assertError(submit(valid, null), 401, "unauthorized", "X-API-Key");
        assertError(submit(valid, "wrong"), 401, "unauthorized", "X-API-Key");
        assertError(submit(valid, TINY_KEY), 403, "forbidden", "small");
        assertThat(state("queue-refused")).as("nothing recorded for a refused request").isNull();

        // the broker refuses the publish (nothing bound for the lane: returned as unroutable): an error, not a lost task
        Binding lane = new Binding("worker-service.small.critical", Binding.DestinationType.QUEUE, "task.events",
                "task.ready.small.critical", null);
        BROKER.admin.removeBinding(lane);
        try {
            Map<String, Object> critical = new LinkedHashMap<>(valid);
            critical.put("priority", "critical");
            assertError(submit(critical, FULL_KEY), 503, "publish_failed", "task.ready.small.critical");
            assertThat(state("queue-refused")).as("a task the broker refused is not recorded as queued").isNull();
        } finally {
            BROKER.admin.declareBinding(lane);
        }
        HttpResponse<String> accepted = submit(valid, FULL_KEY);
        assertThat(accepted.statusCode()).as("the same task once the lane is bound again").isEqualTo(202);
        await().atMost(TIMEOUT).until(() -> "completed".equals(state("queue-refused").path("status").asText()));
    }

    static void assertError(HttpResponse<String> response, int status, String error, String detail) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
        JsonNode body = parse(response.body());
        assertThat(body.path("error").asText()).isEqualTo(error);
        assertThat(body.path("detail").asText()).contains(detail);
    }

    @Test
    void aCriticalTaskBehindABacklogOfLowOnesIsAmongTheNextConcurrencyStarts() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        int backlog = 12;
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(Duration.ofMillis(1500)));
        for (int i = 0; i < backlog; i++) {
            HttpResponse<String> low = submit(task("prio-low-" + i, "code-general", "Backlog task number " + i + " of the low lane",
                    "small", "low"), FULL_KEY);
            assertThat(low.statusCode()).isEqualTo(202);
        }
        // the tier is busy: its two slots run low tasks, two more low tasks wait in its line, the rest in the lane
        await().atMost(TIMEOUT).until(() -> LLM.inFlight("gemma3:12b") == CONCURRENCY
                && io.dats.worker.llm.TierLine.waiting(camelContext, "small") == 2);
        int startedBefore = LLM.calls().size();
        HttpResponse<String> critical = submit(task("prio-critical", "code-general", "The critical task jumps the line",
                "small", "critical"), FULL_KEY);
        assertThat(critical.statusCode()).isEqualTo(202);
        int position = parse(critical.body()).path("position").asInt();

        await().atMost(Duration.ofMinutes(2)).until(() -> outputs.received().size() >= backlog + 1);
        List<String> starts = new ArrayList<>();
        for (FakeLlmServer.LlmCall call : LLM.calls()) {
            starts.add(call.prompt().contains("critical task jumps") ? "critical"
                    : call.prompt().replaceAll("(?s).*Backlog task number (\\d+) .*", "low-$1"));
        }
        int criticalStart = starts.indexOf("critical");
        int startsAfterSubmission = criticalStart - startedBefore + 1;
        System.out.printf("Priority figures: backlog %d low tasks, concurrency %d, %d started before the critical one "
                        + "was submitted; its position answer %d; it started as start #%d of %d (#%d after its "
                        + "submission); start order %s%n", backlog, CONCURRENCY, startedBefore, position,
                criticalStart + 1, starts.size(), startsAfterSubmission, starts);
        assertThat(position).as("nothing of its priority or higher is ahead of it").isEqualTo(1);
        assertThat(startsAfterSubmission).as("among the next %d starts of the tier", CONCURRENCY)
                .isBetween(1, CONCURRENCY);
        assertThat(starts).hasSize(backlog + 1).doesNotHaveDuplicates();
    }

    @Test
    void inferTakesOnlyTheTiersItsApiKeyMayUse() {
        String body = json(Map.of("prompt", "Say hello", "tier", "small", "max_tokens", 20));
        HttpResponse<String> forbidden = send(request("/v1/infer").header("Content-Type", "application/json")
                .header("X-API-Key", TINY_KEY).POST(HttpRequest.BodyPublishers.ofString(body)).build());
        assertError(forbidden, 403, "forbidden", "small");
        assertThat(LLM.calls()).isEmpty();

        HttpResponse<String> allowed = send(request("/v1/infer").header("Content-Type", "application/json")
                .header("X-API-Key", TINY_KEY).POST(HttpRequest.BodyPublishers.ofString(
                        json(Map.of("prompt", "Say hello", "tier", "tiny")))).build());
        assertThat(allowed.statusCode()).isEqualTo(200);
        HttpResponse<String> everyTier = send(request("/v1/infer").header("Content-Type", "application/json")
                .header("X-API-Key", FULL_KEY).POST(HttpRequest.BodyPublishers.ofString(body)).build());
        assertThat(everyTier.statusCode()).isEqualTo(200);
        assertError(send(request("/v1/infer").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build()), 401, "unauthorized", "X-API-Key");
        assertThat(LLM.calls()).hasSize(2);
    }
}
