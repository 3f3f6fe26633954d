package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The task store end to end: task state over REST, and task ids that are idempotent whichever intake they come by: a
 * completed task is not run again (its output is returned or republished), a failed one is not run again for a
 * duplicate delivery (the same task.failed again) unless an operator replays it, so a task id never ends with two
 * different outcomes.
 */
class TaskStoreIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("task-store");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
    }

    @Test
    void aCompletedTaskIdIsNotRunAgainOverRestNorFromTheQueue() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        String body = task("store-once", "code-general", "Create fibonacci function");

        HttpResponse<String> first = execute(body);
        HttpResponse<String> again = execute(body);
        BROKER.publishTask("small", body);

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(parse(again.body())).isEqualTo(parse(first.body()));
        await().atMost(EVENT_TIMEOUT).until(() -> outputs.of("store-once").size() == 3);
        for (Message output : outputs.of("store-once")) {
            assertThat(parse(TestBroker.body(output))).as("every event of the task says the same").isEqualTo(parse(first.body()));
        }
        assertThat(LLM.calls()).as("one LLM call for three requests").hasSize(1);
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount("worker-service.small") == 0);
    }

    @Test
    void aFailedTaskIdGetsTheSameFailureForADuplicateDeliveryAndRunsAgainWhenReplayed() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.error(500, "model crashed"));
        String body = task("store-failed", "code-general", "Create fibonacci function");
        BROKER.publishTask("small", body);
        JsonNode failure = failures.awaitJson("store-failed", EVENT_TIMEOUT);
        int callsAfterFailure = LLM.calls().size();

        LLM.respondWith(call -> Reply.text("```python\nprint('fixed')\n```"));
        BROKER.publishTask("small", body);
        await().atMost(EVENT_TIMEOUT).until(() -> failures.of("store-failed").size() == 2);
        assertThat(parse(TestBroker.body(failures.of("store-failed").get(1)))).isEqualTo(failure);
        assertThat(LLM.calls()).as("the duplicate was not run").hasSize(callsAfterFailure);
        assertThat(outputs.of("store-failed")).isEmpty();

        BROKER.publish("task.ready.small", MessageBuilder.withBody(body.getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json").setDeliveryMode(MessageDeliveryMode.PERSISTENT)
                .setHeader("x-replayed", "true").build());
        JsonNode output = outputs.awaitJson("store-failed", EVENT_TIMEOUT);
        assertThat(output.path("status").asText()).isEqualTo("completed");
    }

    @Test
    void answersATasksStateAndListsRecentTasks() {
        assertThat(execute(task("store-state", "documentation", "Write the guide")).statusCode()).isEqualTo(200);

        JsonNode state = parse(send(request("/api/v1/tasks/store-state").GET().build()).body());
        assertThat(state.path("task_id").asText()).isEqualTo("store-state");
        assertThat(state.path("status").asText()).isEqualTo("completed");
        assertThat(state.path("source").asText()).isEqualTo("rest");
        assertThat(state.path("tier").asText()).isEqualTo("small");
        for (String time : List.of("queued_at", "started_at", "completed_at")) {
            assertThat(state.path(time).asText()).as(time).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
        }
        assertThat(state.path("result").path("output").path("artifacts").get(0).path("type").asText())
                .isEqualTo("documentation");

        HttpResponse<String> unknown = send(request("/api/v1/tasks/no-such-task").GET().build());
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(parse(unknown.body()).path("error").asText()).isEqualTo("not_found");

        JsonNode list = parse(send(request("/api/v1/tasks?status=completed&tier=small&limit=5").GET().build()).body());
        assertThat(list.path("tasks").findValuesAsText("task_id")).contains("store-state");
        assertThat(list.path("tasks").findValuesAsText("status")).containsOnly("completed");
        HttpResponse<String> badLimit = send(request("/api/v1/tasks?limit=0").GET().build());
        assertThat(badLimit.statusCode()).isEqualTo(400);
        assertThat(send(request("/api/v1/tasks?status=lost").GET().build()).statusCode()).isEqualTo(400);
    }
}
