package io.dats.worker.it;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Dead-letter replay end to end (README "Replaying dead letters"): real tasks dead-lettered by a failing LLM and by
 * validation, plus one message as the broker dead-letters it and one for a tier that is not configured; then the
 * listing, replays by task id, by error kind, with a limit, a replay the broker refuses (nack) or cannot route, and
 * a replay of everything. With the intakes stopped, every message is counted after each step: dead-letter queue plus
 * tier queues always hold all of them (no loss, no duplicate); then the intakes run the moved tasks to their outcome.
 */
class DeadLetterReplayIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("replay");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final String DLQ = "worker-service.dead-letter";
    static final String LIST = "/api/v1/admin/dead-letters";
    static final String REPLAY = "/api/v1/admin/dead-letters/replay";
    static final List<String> QUEUES = List.of(DLQ, "worker-service.tiny", "worker-service.small", "worker-service.large",
            "worker-service.coding", "worker-service.frontier");

    @Autowired
    CamelContext camelContext;

    @Autowired
    WorkerProperties properties;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
    }

    @Test
    void replaysByTaskIdByErrorKindWithALimitAndAllWithoutLosingAMessage() throws Exception {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");

        // dead letters: three tasks the LLM fails (llm_failed), one invalid task (invalid_task) ...
        LLM.respondWith(call -> Reply.error(500, "model down"));
        BROKER.publishTask("small", task("rp-1", "code-general", "One"));
        BROKER.publishTask("small", task("rp-2", "code-general", "Two"));
        BROKER.publishTask("tiny", task("rp-3", "documentation", "Three"));
        BROKER.publishTask("small", json(Map.of("task_id", "rp-inv", "domain", "no-such-domain", "description", "Four")));
        for (String id : List.of("rp-1", "rp-2", "rp-3", "rp-inv")) {
            failures.await(id, EVENT_TIMEOUT);
        }
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount(DLQ) == 4);
        // ... one as the broker dead-letters a rejected message, one for a tier this worker does not have
        publishDeadLetter("task.ready.large", MessageBuilder.withBody(task("rp-bk", "code-general", "Five").getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json").setMessageId("msg-bk").setCorrelationId("corr-bk")
                .setTimestamp(new Date(1_700_000_000_000L)).setHeader("x-trace-id", "trace-bk")
                .setHeader("x-death", List.of(Map.of("queue", "worker-service.large", "reason", "rejected", "count", 1L,
                        "exchange", "task.events", "routing-keys", List.of("task.ready.large"))))
                .setHeader("x-first-death-queue", "worker-service.large").setHeader("x-first-death-reason", "rejected")
                .setHeader("x-first-death-exchange", "task.events")
                .setDeliveryMode(MessageDeliveryMode.PERSISTENT).build());
        publishDeadLetter("task.ready.gpu", MessageBuilder.withBody(task("rp-gpu", "code-general", "Six").getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json").setHeader("x-failure-error", "llm_failed")
                .setHeader("x-failure-reason", "gpu box down").setHeader("x-original-tier", "gpu")
                .setDeliveryMode(MessageDeliveryMode.PERSISTENT).build());
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount(DLQ) == 6);

        // moved tasks wait in their tier queues while every message is counted; the LLM answers again
        stopIntakes();
        LLM.reset();
        EventInbox replayed = EventInbox.events(BROKER, "task.ready.#");

        HttpResponse<String> listing = admin(request(LIST).GET());
        assertThat(listing.statusCode()).as(listing.body()).isEqualTo(200);
        JsonNode list = parse(listing.body());
        assertThat(list.path("messages").asInt()).isEqualTo(6);
        assertThat(counts(list.path("by_error"))).isEqualTo(Map.of("llm_failed", 4, "invalid_task", 1, "rejected", 1));
        assertThat(counts(list.path("by_tier"))).isEqualTo(Map.of("small", 3, "tiny", 1, "large", 1, "gpu", 1));
        assertQueues(Map.of(DLQ, 6));

        JsonNode byTask = replay("{\"task_id\":\"rp-1\"}");
        assertThat(byTask.path("moved").asInt()).isEqualTo(1);
        assertThat(byTask.path("kept").asInt()).isEqualTo(5);
        assertThat(byTask.path("skipped").asInt()).isZero();
        assertThat(counts(byTask.path("by_tier"))).isEqualTo(Map.of("small", 1));
        assertQueues(Map.of(DLQ, 5, "worker-service.small", 1));

        JsonNode byError = replay("{\"error\":\"llm_failed\"}");
        assertThat(byError.path("moved").asInt()).isEqualTo(2);
        assertThat(byError.path("kept").asInt()).isEqualTo(2);
        assertThat(byError.path("skipped").asInt()).isEqualTo(1);
        assertThat(counts(byError.path("by_tier"))).isEqualTo(Map.of("small", 1, "tiny", 1));
        assertThat(counts(byError.path("skipped_reasons"))).isEqualTo(Map.of("tier 'gpu' is not configured", 1));
        assertQueues(Map.of(DLQ, 3, "worker-service.small", 2, "worker-service.tiny", 1));

        // what stays keeps its order (rp-inv, rp-bk, rp-gpu) through the scans: with a limit of 1, the head moves
        JsonNode first = replay("{\"limit\":1}");
        assertThat(first.path("moved").asInt()).isEqualTo(1);
        assertThat(first.path("kept").asInt()).isEqualTo(2);
        assertThat(counts(first.path("by_tier"))).as("rp-inv (small) was the head").isEqualTo(Map.of("small", 1));
        assertQueues(Map.of(DLQ, 2, "worker-service.small", 3, "worker-service.tiny", 1));

        // the broker refuses the copy (a full queue on the route): the replay stops, the message stays
        Queue full = refusingQueue("task.ready.large");
        try {
            HttpResponse<String> refused = admin(request(REPLAY).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{}")));
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
            JsonNode error = parse(refused.body());
            assertThat(error.path("error").asText()).isEqualTo("replay_stopped");
            assertThat(error.path("detail").asText()).contains("rp-bk").contains("nack");
            assertThat(error.path("moved").asInt()).isZero();
        } finally {
            BROKER.admin.deleteQueue(full.getName());
        }
        assertThat(BROKER.messageCount(DLQ)).isEqualTo(2);
        // RabbitMQ routes before it nacks: the tier queue may hold a copy (a duplicate, never a loss)
        assertThat(BROKER.messageCount("worker-service.large")).isLessThanOrEqualTo(1);
        BROKER.admin.purgeQueue("worker-service.large", false);

        // nothing bound to the routing key: the mandatory publish comes back, the replay stops, the message stays
        Binding largeBinding = new Binding("worker-service.large", Binding.DestinationType.QUEUE, "task.events",
                "task.ready.large", null);
        BROKER.admin.removeBinding(largeBinding);
        BROKER.unbind(replayed.queueName(), "task.events", "task.ready.#");
        try {
            HttpResponse<String> unroutable = admin(request(REPLAY).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"task_id\":\"rp-bk\"}")));
            assertThat(unroutable.statusCode()).as(unroutable.body()).isEqualTo(503);
            assertThat(parse(unroutable.body()).path("detail").asText()).contains("unroutable");
        } finally {
            BROKER.admin.declareBinding(largeBinding);
            BROKER.admin.declareBinding(new Binding(replayed.queueName(), Binding.DestinationType.QUEUE, "task.events",
                    "task.ready.#", null));
        }
        assertQueues(Map.of(DLQ, 2, "worker-service.small", 3, "worker-service.tiny", 1));

        JsonNode all = replay("");
        assertThat(all.path("moved").asInt()).isEqualTo(1);
        assertThat(all.path("skipped").asInt()).isEqualTo(1);
        assertThat(all.path("kept").asInt()).isZero();
        assertThat(counts(all.path("by_tier"))).isEqualTo(Map.of("large", 1));
        assertQueues(Map.of(DLQ, 1, "worker-service.small", 3, "worker-service.tiny", 1, "worker-service.large", 1));

        // the copies keep the producer's body and properties, without the dead-letter headers
        Message bk = replayed.of("rp-bk").get(0);
        assertThat(TestBroker.body(bk)).isEqualTo(task("rp-bk", "code-general", "Five"));
        assertThat(bk.getMessageProperties().getMessageId()).isEqualTo("msg-bk");
        assertThat(bk.getMessageProperties().getCorrelationId()).isEqualTo("corr-bk");
        assertThat(bk.getMessageProperties().getTimestamp()).isEqualTo(new Date(1_700_000_000_000L));
        assertThat(bk.getMessageProperties().getContentType()).isEqualTo("application/json");
        assertThat(bk.getMessageProperties().getReceivedDeliveryMode()).isEqualTo(MessageDeliveryMode.PERSISTENT);
        assertThat(bk.getMessageProperties().getReceivedRoutingKey()).isEqualTo("task.ready.large");
        assertThat(bk.getMessageProperties().getHeaders()).containsEntry("x-trace-id", "trace-bk")
                .doesNotContainKeys("x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange");
        Message one = replayed.of("rp-1").get(0);
        assertThat(one.getMessageProperties().getReceivedRoutingKey()).isEqualTo("task.ready.small");
        assertThat(one.getMessageProperties().getHeaders())
                .doesNotContainKeys("x-failure-error", "x-failure-reason", "x-original-tier");
        assertThat(replayed.of("rp-gpu")).isEmpty();

        // the moved tasks run to their outcome; the invalid one fails again and is dead-lettered again
        startIntakes();
        for (String id : List.of("rp-1", "rp-2", "rp-3", "rp-bk")) {
            assertThat(outputs.awaitJson(id, EVENT_TIMEOUT).path("status").asText()).as(id).isEqualTo("completed");
        }
        await().atMost(EVENT_TIMEOUT).until(() -> failures.of("rp-inv").size() == 2);
        await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount(DLQ) == 2
                && BROKER.messageCount("worker-service.small") == 0);
    }

    /** Also the figures of the README: a listing and a replay of 2,000 dead letters, timed. */
    @Test
    void scansAndMovesTwoThousandDeadLettersWithNothingLost() throws Exception {
        int n = 2000;
        long before = BROKER.messageCount(DLQ);
        camelContext.getRouteController().stopRoute("intake-coding");
        try {
            Boolean confirmed = BROKER.template.invoke(t -> {
                for (int i = 0; i < n; i++) {
                    t.send("task.dlx", "task.ready.coding", MessageBuilder
                            .withBody(task("load-" + i, "code-general", "Task " + i).getBytes(StandardCharsets.UTF_8))
                            .setContentType("application/json").setHeader("x-failure-error", "llm_timeout")
                            .setHeader("x-original-tier", "coding").setDeliveryMode(MessageDeliveryMode.PERSISTENT).build());
                }
                return t.waitForConfirms(60_000);
            });
            assertThat(confirmed).isTrue();
            await().atMost(EVENT_TIMEOUT).until(() -> BROKER.messageCount(DLQ) == before + n);

            long listStart = System.nanoTime();
            JsonNode list = parse(admin(request(LIST).GET()).body());
            long listMillis = (System.nanoTime() - listStart) / 1_000_000;
            assertThat(list.path("messages").asLong()).isEqualTo(before + n);
            assertThat(list.path("by_error").path("llm_timeout").asInt()).isEqualTo(n);
            assertThat(BROKER.messageCount(DLQ)).isEqualTo(before + n);

            long replayStart = System.nanoTime();
            JsonNode moved = replay("{\"error\":\"llm_timeout\"}");
            long replayMillis = (System.nanoTime() - replayStart) / 1_000_000;
            assertThat(moved.path("moved").asInt()).isEqualTo(n);
            assertThat(moved.path("kept").asLong()).isEqualTo(before);
            assertThat(BROKER.messageCount(DLQ)).isEqualTo(before);
            assertThat(BROKER.messageCount("worker-service.coding")).isEqualTo(n);
            System.out.printf("Dead-letter figures: %d messages listed in %d ms, %d moved in %d ms%n",
                    before + n, listMillis, n, replayMillis);
        } finally {
            BROKER.admin.purgeQueue("worker-service.coding", false);
            camelContext.getRouteController().startRoute("intake-coding");
        }
    }

    @Test
    void onlyTheAdminMayListOrReplayAndOnlyWithJson() {
        assertThat(send(request(LIST).GET().build()).statusCode()).isEqualTo(401);
        assertThat(send(request(REPLAY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build()).statusCode()).isEqualTo(401);
        assertThat(send(request(REPLAY).header("Authorization", basic("wrong")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build()).statusCode()).isEqualTo(401);
        // a form post (what a cross-site page can send) is refused even with the admin's credentials
        assertThat(admin(request(REPLAY).header("Content-Type", "text/plain")
                .POST(HttpRequest.BodyPublishers.ofString("{}"))).statusCode()).isEqualTo(403);
        assertThat(admin(request(REPLAY).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(403);
        // a misspelt field is refused, not read as "replay everything"
        HttpResponse<String> misspelt = admin(request(REPLAY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"taskid\":\"x\"}")));
        assertThat(misspelt.statusCode()).isEqualTo(400);
        assertThat(parse(misspelt.body()).path("error").asText()).isEqualTo("invalid_request");
        assertThat(misspelt.headers().map().keySet()).noneMatch(name -> name.toLowerCase().startsWith("camel"));
        // the task API stays open
        assertThat(send(request("/api/v1/health").GET().build()).statusCode()).isEqualTo(200);
    }

    @Test
    void theDocumentedCommandCallsTheEndpointWithTheAdminFromTheEnvironment() throws Exception {
        CommandResult moved = command(ADMIN_PASSWORD, "--task-id", "no-such-task", "--limit", "3");
        assertThat(moved.exitCode()).as(moved.output()).isZero();
        assertThat(parse(moved.output()).path("moved").asInt()).isZero();
        CommandResult listed = command(ADMIN_PASSWORD, "--list");
        assertThat(listed.exitCode()).as(listed.output()).isZero();
        assertThat(parse(listed.output()).has("by_error")).isTrue();
        // without a filter it asks for --all instead of moving everything
        assertThat(command(ADMIN_PASSWORD).exitCode()).isEqualTo(2);
        assertThat(command("wrong", "--all").exitCode()).isNotZero();
    }

    record CommandResult(int exitCode, String output) {
    }

    private CommandResult command(String password, String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of("bin/replay-dead-letters", "--url", "http://127.0.0.1:" + port));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(false);
        builder.environment().put("SPRING_SECURITY_USER_NAME", ADMIN_USER);
        builder.environment().put("SPRING_SECURITY_USER_PASSWORD", password);
        builder.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        return new CommandResult(process.exitValue(), output);
    }

    private JsonNode replay(String filter) {
        HttpResponse<String> response = admin(request(REPLAY).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(filter)));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
        return parse(response.body());
    }

    private HttpResponse<String> admin(HttpRequest.Builder request) {
        return send(request.header("Authorization", basic(ADMIN_PASSWORD)).build());
    }

    private static String basic(String password) {
        return "Basic " + Base64.getEncoder().encodeToString((ADMIN_USER + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** Every message is in one of the queues, at rest: the counts given, zero elsewhere. */
    private static void assertQueues(Map<String, Integer> expected) {
        Map<String, Long> actual = new LinkedHashMap<>();
        Map<String, Long> wanted = new LinkedHashMap<>();
        for (String queue : QUEUES) {
            actual.put(queue, BROKER.messageCount(queue));
            wanted.put(queue, (long) expected.getOrDefault(queue, 0));
        }
        assertThat(actual).isEqualTo(wanted);
    }

    private static Map<String, Integer> counts(JsonNode object) {
        Map<String, Integer> counts = new LinkedHashMap<>();
        object.fields().forEachRemaining(field -> counts.put(field.getKey(), field.getValue().asInt()));
        return counts;
    }

    private static void publishDeadLetter(String routingKey, Message message) {
        Boolean confirmed = BROKER.template.invoke(t -> {
            t.send("task.dlx", routingKey, message);
            return t.waitForConfirms(10_000);
        });
        assertThat(confirmed).isTrue();
    }

    private void stopIntakes() throws Exception {
        for (String tier : properties.tiers().keySet()) {
            camelContext.getRouteController().stopRoute("intake-" + tier);
        }
    }

    private void startIntakes() throws Exception {
        for (String tier : properties.tiers().keySet()) {
            camelContext.getRouteController().startRoute("intake-" + tier);
        }
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
