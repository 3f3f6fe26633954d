package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.BindingBuilder;
import org.apache.camel.CamelContext;

import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Failure paths end to end: LLM errors and timeouts after Camel's retries, outputs that fail the schema, a tier without
 * its API key, and outcomes the broker refuses. Own worker context: tiny has a 1 s timeout and 2 attempts, frontier
 * has no API key.
 */
class FailureIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("failures");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);

    @Autowired
    CamelContext camelContext;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.tiers.tiny.timeout", () -> "1s");
        registry.add("worker.tiers.tiny.max-attempts", () -> "2");
        registry.add("worker.tiers.frontier.api-key", () -> "");
    }

    @Test
    void failingLlmEndsInTaskFailedAfterTheRetries() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.error(500, "model crashed"));
        String body = task("llm-500", "code-general", "Create fibonacci function");
        BROKER.publishTask("small", body);

        Message failed = failures.await("llm-500", EVENT_TIMEOUT);
        assertThat(failed.getMessageProperties().getContentType()).isEqualTo("application/json");
        assertThat(failed.getMessageProperties().getMessageId()).isEqualTo("llm-500");
        assertThat(failed.getMessageProperties().getReceivedDeliveryMode()).isEqualTo(MessageDeliveryMode.PERSISTENT);
        JsonNode event = parse(TestBroker.body(failed));
        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("reason").asText()).contains("gemma3:12b").contains("3 attempt(s)");
        assertThat(event.path("attempts").asInt()).isEqualTo(3);
        assertThat(event.path("tier").asText()).isEqualTo("small");
        assertThat(event.path("domain").asText()).isEqualTo("code-general");
        assertThat(LLM.requestCount("gemma3:12b")).isEqualTo(3);

        Message original = EventInbox.queue(BROKER, "worker-service.dead-letter").await("llm-500", EVENT_TIMEOUT);
        assertThat(TestBroker.body(original)).isEqualTo(body);
        assertThat(original.getMessageProperties().getHeaders()).containsEntry("x-failure-error", "llm_failed");
        assertThat(outputs.of("llm-500")).isEmpty();
    }

    @Test
    void transientLlmFailureIsRetriedAndTheTaskCompletes() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        AtomicInteger calls = new AtomicInteger();
        LLM.respondWith(call -> calls.incrementAndGet() == 1 ? Reply.error(503, "overloaded") : Reply.text("```c\nint x;\n```"));
        BROKER.publishTask("small", task("llm-503-once", "code-embedded", "Blink a LED"));

        JsonNode event = outputs.awaitJson("llm-503-once", EVENT_TIMEOUT);
        assertThat(event.path("status").asText()).isEqualTo("completed");
        assertThat(event.path("output").path("artifacts").get(0).path("language").asText()).isEqualTo("c");
        assertThat(LLM.requestCount("gemma3:12b")).isEqualTo(2);
    }

    @Test
    void nonTransientLlmErrorIsNotRetried() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        LLM.respondWith(call -> Reply.error(400, "context length exceeded"));
        BROKER.publishTask("large", task("llm-400", "code-vision", "Detect faces"));

        JsonNode event = failures.awaitJson("llm-400", EVENT_TIMEOUT);
        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("attempts").asInt()).isEqualTo(1);
        assertThat(LLM.requestCount("openai/gpt-oss-20b")).isEqualTo(1);
    }

    @Test
    void restAnswers504WhenEveryAttemptPassesTheTierTimeout() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        LLM.respondWith(call -> Reply.text("late").delayed(Duration.ofSeconds(3)));
        HttpResponse<String> response = execute(json(Map.of("task_id", "rest-timeout", "domain", "code-general",
                "tier", "tiny", "description", "Say hi")));

        assertThat(response.statusCode()).isEqualTo(504);
        JsonNode error = parse(response.body());
        assertThat(error.path("error").asText()).isEqualTo("llm_timeout");
        assertThat(error.path("detail").asText()).contains("1s").contains("2 attempt(s)");
        assertThat(error.path("task_id").asText()).isEqualTo("rest-timeout");
        assertThat(LLM.requestCount("gemma3:4b")).isEqualTo(2);
        assertThat(failures.awaitJson("rest-timeout", EVENT_TIMEOUT).path("error").asText()).isEqualTo("llm_timeout");
    }

    @Test
    void restAnswers502WhenTheLlmFails() {
        LLM.respondWith(call -> Reply.error(500, "boom"));
        HttpResponse<String> response = execute(json(Map.of("task_id", "rest-502", "domain", "documentation",
                "tier", "coding", "description", "Write docs")));
        assertThat(response.statusCode()).isEqualTo(502);
        assertThat(parse(response.body()).path("error").asText()).isEqualTo("llm_failed");
        assertThat(LLM.requestCount("qwen3-coder:30b-a3b-q8_0-64k")).isEqualTo(3);
    }

    @Test
    void tierWithoutItsApiKeyFailsItsTasksWithTheReason() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        BROKER.publishTask("frontier", task("no-key", "code-general", "Anything"));

        JsonNode event = failures.awaitJson("no-key", EVENT_TIMEOUT);
        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("reason").asText()).contains("WORKER_TIERS_FRONTIER_API_KEY");
        assertThat(event.path("attempts").asInt()).isEqualTo(1);
        assertThat(LLM.calls()).isEmpty();
    }

    @Test
    void outputThatFailsTheSchemaIsAFailure() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("   "));
        BROKER.publishTask("small", task("blank-output", "code-general", "Anything"));

        JsonNode event = failures.awaitJson("blank-output", EVENT_TIMEOUT);
        assertThat(event.path("error").asText()).isEqualTo("invalid_output");
        assertThat(event.path("reason").asText()).contains("$.output.content");
        assertThat(outputs.of("blank-output")).isEmpty();
    }

    @Test
    void outcomeTheBrokerRefusesEndsAsTaskFailedWithTheOriginalKept() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        Queue full = refusingQueue("task.output.created");
        try {
            String body = task("refused-output", "code-general", "Anything");
            BROKER.publishTask("small", body);

            JsonNode event = failures.awaitJson("refused-output", EVENT_TIMEOUT);
            assertThat(event.path("error").asText()).isEqualTo("publish_failed");
            Message original = EventInbox.queue(BROKER, "worker-service.dead-letter").await("refused-output", EVENT_TIMEOUT);
            assertThat(TestBroker.body(original)).isEqualTo(body);
            assertThat(original.getMessageProperties().getHeaders()).containsEntry("x-failure-error", "publish_failed");
        } finally {
            BROKER.admin.deleteQueue(full.getName());
        }
    }

    @Test
    void taskWhoseOutcomeCannotBePublishedAtAllIsDeadLetteredByTheBroker() {
        Queue fullOutputs = refusingQueue("task.output.created");
        Queue fullFailures = refusingQueue("task.failed");
        try {
            String body = task("refused-everything", "code-general", "Anything");
            BROKER.publishTask("small", body);

            // never acknowledged as done: the listener rejects it and the broker dead-letters the original
            Message original = EventInbox.queue(BROKER, "worker-service.dead-letter").await("refused-everything", EVENT_TIMEOUT);
            assertThat(TestBroker.body(original)).isEqualTo(body);
            assertThat(original.getMessageProperties().getHeaders()).containsKey("x-death")
                    .doesNotContainKey("x-failure-error");
            assertThat(original.getMessageProperties().getHeaders().get("x-first-death-reason")).hasToString("rejected");
            assertThat(original.getMessageProperties().getHeaders().get("x-first-death-queue")).hasToString("worker-service.small");
            // (a publish the broker nacks may still have reached other bound queues: RabbitMQ routes first and
            // nacks after, so consumers of the events see them at least once and de-duplicate by task_id)
        } finally {
            BROKER.admin.deleteQueue(fullOutputs.getName());
            BROKER.admin.deleteQueue(fullFailures.getName());
        }
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount("worker-service.small") == 0);
    }

    @Test
    void healthIsDownWhileAnIntakeRouteIsStopped() throws Exception {
        assertThat(send(request("/health").GET().build()).statusCode()).isEqualTo(200);
        camelContext.getRouteController().stopRoute("intake-tiny");
        try {
            HttpResponse<String> response = send(request("/api/v1/health").GET().build());
            assertThat(response.statusCode()).isEqualTo(503);
            assertThat(parse(response.body()).path("status").asText()).isEqualTo("DOWN");
            assertThat(parse(response.body()).path("routes_not_started").asInt()).isEqualTo(1);
        } finally {
            camelContext.getRouteController().startRoute("intake-tiny");
        }
        assertThat(send(request("/health").GET().build()).statusCode()).isEqualTo(200);
    }

    /** A full queue (max-length 1, reject-publish, one message in it): the broker nacks every publish routed to it. */
    private static Queue refusingQueue(String routingKey) {
        Queue queue = QueueBuilder.nonDurable("refusing-" + routingKey + "-" + System.nanoTime())
                .maxLength(1).overflow(QueueBuilder.Overflow.rejectPublish).build();
        BROKER.admin.declareQueue(queue);
        BROKER.template.convertAndSend("", queue.getName(), "filler");
        BROKER.admin.declareBinding(BindingBuilder.bind(queue).to(new TopicExchange("task.events", true, false)).with(routingKey));
        return queue;
    }
}
