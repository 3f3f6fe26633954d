package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Date;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An outcome is never confirmed into nothing: on a virtual host where no queue is bound to task.output.created, the
 * worker's mandatory publish comes back, so the task fails (publish_failed) and its original is kept; with the
 * alternate-exchange policy the README documents, the outcome lands in worker-service.unrouted instead. Own virtual
 * host, so that no other test's listener is bound to the outcomes; the order matters, as a test's listener stays
 * bound while the JVM runs.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UnroutableOutcomeIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("unrouted");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
    }

    @Test
    @Order(3)
    void anOutputNoQueueReceivesFailsTheTaskAndKeepsTheOriginalWithItsProperties() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        String body = task("unrouted-output", "code-general", "Create fibonacci function");
        Date sent = new Date(1_700_000_000_000L);
        BROKER.publish("task.ready.small", MessageBuilder.withBody(body.getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json")
                .setMessageId("producer-message-1")
                .setCorrelationId("producer-correlation-1")
                .setTimestamp(sent)
                .setHeader("x-producer", "orchestrator")
                .setHeader("CamelSpringRabbitmqExchangeOverrideName", "evil.exchange")
                .setDeliveryMode(MessageDeliveryMode.PERSISTENT)
                .build());

        JsonNode event = failures.awaitJson("unrouted-output", EVENT_TIMEOUT);
        assertThat(event.path("error").asText()).isEqualTo("publish_failed");
        assertThat(event.path("reason").asText()).contains("no queue is bound to task.events for task.output.created");

        Message original = EventInbox.queue(BROKER, "worker-service.dead-letter").await("unrouted-output", EVENT_TIMEOUT);
        assertThat(TestBroker.body(original)).isEqualTo(body);
        var properties = original.getMessageProperties();
        assertThat(properties.getContentType()).isEqualTo("application/json");
        assertThat(properties.getMessageId()).isEqualTo("producer-message-1");
        assertThat(properties.getCorrelationId()).isEqualTo("producer-correlation-1");
        assertThat(properties.getTimestamp()).isEqualTo(sent);
        assertThat(properties.getReceivedDeliveryMode()).isEqualTo(MessageDeliveryMode.PERSISTENT);
        assertThat(properties.getHeaders())
                .containsEntry("x-producer", "orchestrator")
                .containsEntry("x-failure-error", "publish_failed")
                .containsEntry("x-original-tier", "small")
                .doesNotContainKey("CamelSpringRabbitmqExchangeOverrideName");
        assertThat(properties.getReceivedRoutingKey()).isEqualTo("task.ready.small");
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount("worker-service.small") == 0);
    }

    @Test
    @Order(1)
    void withNoQueueForEitherOutcomeTheBrokerDeadLettersTheTaskItself() {
        String body = task("unrouted-everything", "code-general", "Anything");
        BROKER.publishTask("small", body);

        Message original = EventInbox.queue(BROKER, "worker-service.dead-letter").await("unrouted-everything", EVENT_TIMEOUT);
        assertThat(TestBroker.body(original)).isEqualTo(body);
        assertThat(original.getMessageProperties().getHeaders()).containsKey("x-death");
        assertThat(original.getMessageProperties().getHeaders().get("x-first-death-reason")).hasToString("rejected");
    }

    @Test
    @Order(2)
    void aRestCallWhoseOutputNoQueueReceivesAnswers503() {
        HttpResponse<String> response = execute(task("unrouted-rest", "code-general", "Create fibonacci function"));

        assertThat(response.statusCode()).isEqualTo(503);
        JsonNode error = parse(response.body());
        assertThat(error.path("error").asText()).isEqualTo("publish_failed");
        assertThat(error.path("task_id").asText()).isEqualTo("unrouted-rest");
    }

    @Test
    @Order(4)
    void withTheAlternateExchangePolicyTheOutputLandsInTheUnroutedQueue() {
        TestBroker.rabbitmqctl("set_policy", "-p", BROKER.vhost, "--apply-to", "exchanges", "task-events-unrouted",
                "^task\\.events$", "{\"alternate-exchange\":\"task.unrouted\"}");
        try {
            BROKER.publishTask("small", task("unrouted-kept", "code-general", "Create fibonacci function"));

            Message kept = EventInbox.queue(BROKER, "worker-service.unrouted").await("unrouted-kept", EVENT_TIMEOUT);
            JsonNode output = parse(TestBroker.body(kept));
            assertThat(output.path("status").asText()).isEqualTo("completed");
            assertThat(kept.getMessageProperties().getReceivedRoutingKey()).isEqualTo("task.output.created");
            await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount("worker-service.small") == 0);
            assertThat(EventInbox.queue(BROKER, "worker-service.dead-letter").received()).doesNotContainKey("unrouted-kept");
        } finally {
            TestBroker.rabbitmqctl("clear_policy", "-p", BROKER.vhost, "task-events-unrouted");
        }
    }
}
