package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.Ordered;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestContext;
import org.springframework.test.context.TestExecutionListener;
import org.springframework.test.context.TestExecutionListeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The broker goes away while a task is being worked on: no task is lost. The worker runs against a RabbitMQ node of
 * its own ({@link OwnRabbitNode}), never the machine's shared broker, since the test stops and restarts it.
 *
 * <p>The worker's context is closed right after this class ({@code @DirtiesContext}), and only then is the node
 * stopped and deleted ({@link StopNodeAfterWorker}): no worker is left in the JVM reconnecting to a dead node while
 * the other classes run.
 */
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
@TestExecutionListeners(listeners = BrokerRestartIT.StopNodeAfterWorker.class,
        mergeMode = TestExecutionListeners.MergeMode.MERGE_WITH_DEFAULTS)
class BrokerRestartIT extends WorkerITSupport {

    static final OwnRabbitNode NODE = OwnRabbitNode.start("broker-restart");
    static final String MODEL = MODELS.get("small");
    /** Queue consumers per tier: the tiers' default concurrency. */
    static final Map<String, Integer> CONSUMERS = Map.of("tiny", 10, "small", 5, "large", 2, "coding", 2, "frontier", 1);
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final String ANSWER = "Here it is.\n\n```python\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n```\n";

    @Autowired
    CamelContext camelContext;

    private CachingConnectionFactory connectionFactory;
    private RabbitAdmin admin;
    private RabbitTemplate template;

    /** As {@link #workerProperties} sets them, with the broker being this class's own node (its default virtual host). */
    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, NODE);
    }

    @BeforeEach
    void connect() {
        connectionFactory = new CachingConnectionFactory("127.0.0.1", NODE.port());
        connectionFactory.setUsername("guest");
        connectionFactory.setPassword("guest");
        connectionFactory.setPublisherConfirmType(CachingConnectionFactory.ConfirmType.SIMPLE);
        admin = new RabbitAdmin(connectionFactory);
        template = new RabbitTemplate(connectionFactory);
    }

    @AfterEach
    void disconnect() {
        LLM.releaseDelayed(); // a held call would otherwise hold up the context's shutdown after a failure
        connectionFactory.destroy();
    }

    @Test
    void taskInFlightWhenTheBrokerStopsIsRedeliveredAndCompletedAfterRestart() {
        String taskId = "restart-" + UUID.randomUUID().toString().substring(0, 8);
        // durable and bound before the stop: a queue bound after the restart could miss an output the worker publishes
        // as soon as it has reconnected, and a non-durable one would not survive the restart
        String outputs = durableEventQueue("task.output.created");
        String failures = durableEventQueue("task.failed");
        AtomicInteger calls = new AtomicInteger();
        LLM.respondWith(call -> calls.incrementAndGet() == 1
                ? Reply.text(ANSWER).delayed(Duration.ofMinutes(1)) // held until released below
                : Reply.text(ANSWER));
        assertThat(health().statusCode()).isEqualTo(200);

        publishTask("small", task(taskId, "code-general", "Create fibonacci function"));
        await().atMost(TIMEOUT).until(() -> LLM.inFlight(MODEL) == 1);
        assertThat(ready("worker-service.small")).isZero();
        assertThat(NODE.unacknowledged()).as("the task, delivered to the worker and not yet acknowledged").isEqualTo(1);

        NODE.stop();
        HttpResponse<String> down = health();
        assertThat(down.statusCode()).isEqualTo(503);
        assertThat(parse(down.body()).path("status").asText()).isEqualTo("DOWN");
        assertThat(parse(down.body()).path("rabbitmq").asText()).isEqualTo("DOWN");
        // the first attempt gets its answer while the broker is gone: its outcome cannot be published, so the task
        // must not count as done (not acknowledged); it ends before the broker is back
        LLM.releaseDelayed();
        await().atMost(TIMEOUT).until(() -> LLM.inFlight(MODEL) == 0 && camelContext.getInflightRepository().size() == 0);

        NODE.start();
        List<JsonNode> completed = new CopyOnWriteArrayList<>();
        await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(200)).until(() -> {
            completed.addAll(events(outputs, taskId));
            return !completed.isEmpty();
        });
        JsonNode output = completed.get(0);
        assertThat(output.path("status").asText()).isEqualTo("completed");
        assertThat(output.path("tier").asText()).isEqualTo("small");
        assertThat(output.path("model").asText()).isEqualTo(MODEL);
        assertThat(output.path("output").path("artifacts").get(0).path("content").asText()).contains("def fib(n)");
        // the first attempt's output was recorded in the task store before its publish failed: the redelivered task
        // publishes that output, and the model is not paid twice
        assertThat(LLM.requestCount(MODEL)).as("LLM calls: the first attempt's output is republished").isEqualTo(1);
        await().atMost(TIMEOUT).until(() -> health().statusCode() == 200);
        // every intake is back, not only the consumer that took the task (each retries on its own every 5 s)
        CONSUMERS.forEach((tier, consumers) -> await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(500))
                .until(() -> admin.getQueueInfo("worker-service." + tier).getConsumerCount() == consumers));

        // acknowledged (the listener acks only after the output was confirmed), not dead-lettered, and no task.failed
        // from the attempt that could not publish
        await().atMost(TIMEOUT).until(() -> ready("worker-service.small") == 0 && NODE.unacknowledged() == 0);
        assertThat(ready("worker-service.dead-letter")).isZero();
        assertThat(events(failures, taskId)).isEmpty();
        assertThat(events(outputs, taskId)).as("further outputs of the task").isEmpty();
    }

    /** Ready messages of a queue, as the queue itself counts them (passive declaration). */
    private long ready(String queue) {
        return admin.getQueueInfo(queue).getMessageCount();
    }

    private HttpResponse<String> health() {
        return send(request("/health").GET().build());
    }

    /** A durable queue of this test bound to task.events with the routing key. */
    private String durableEventQueue(String routingKey) {
        Queue queue = QueueBuilder.durable("it.broker-restart." + routingKey + "." + UUID.randomUUID()).build();
        admin.declareQueue(queue);
        admin.declareBinding(BindingBuilder.bind(queue).to(new TopicExchange("task.events", true, false)).with(routingKey));
        return queue.getName();
    }

    /** Takes every message of the queue and returns those of the task. */
    private List<JsonNode> events(String queue, String taskId) {
        List<JsonNode> events = new CopyOnWriteArrayList<>();
        for (Message m = template.receive(queue); m != null; m = template.receive(queue)) {
            JsonNode event = parse(TestBroker.body(m));
            if (taskId.equals(event.path("task_id").asText())) {
                events.add(event);
            }
        }
        return events;
    }

    /** Publishes as an orchestrator would: persistent JSON on task.events, confirmed by the broker. */
    private void publishTask(String tier, String json) {
        Message message = MessageBuilder.withBody(json.getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json")
                .setDeliveryMode(MessageDeliveryMode.PERSISTENT)
                .build();
        Boolean confirmed = template.invoke(t -> {
            t.send("task.events", "task.ready." + tier, message);
            return t.waitForConfirms(10_000);
        });
        assertThat(confirmed).as("publisher confirm").isTrue();
    }

    /**
     * Stops and deletes the node once the worker's context is closed: after-class callbacks run in reverse order, so
     * the highest precedence runs after {@code DirtiesContextTestExecutionListener} has closed the context.
     */
    static final class StopNodeAfterWorker implements TestExecutionListener, Ordered {

        @Override
        public int getOrder() {
            return Ordered.HIGHEST_PRECEDENCE;
        }

        @Override
        public void afterTestClass(TestContext testContext) {
            NODE.close();
        }
    }
}
