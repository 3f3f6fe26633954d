package io.dats.worker.it;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.Filters;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.bson.Document;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The MongoDB context polling intake (seed 004) against mongo-java-server through the real MongoDB driver: results
 * and errors written back, the claim exclusive between two worker instances polling the same collection (this test's
 * worker and the built jar started as a second process), and a SIGKILLed worker's claim reclaimed after its lease.
 */
class MongoContextIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("mongo-contexts");
    static final MongoServer MONGO = new MongoServer(new MemoryBackend());
    static final String MONGO_URI = uri(MONGO.bind());
    static final Duration LEASE = Duration.ofSeconds(6);
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final String SMALL = "gemma3:12b";

    static MongoClient client;
    static MongoCollection<Document> contexts;

    WorkerJar second;

    @Autowired
    CamelContext camelContext;

    static String uri(InetSocketAddress address) {
        return "mongodb://127.0.0.1:" + address.getPort();
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.id", () -> "mongo-a");
        registry.add("worker.mongo.uri", () -> MONGO_URI);
        registry.add("worker.mongo.database", () -> "it");
        registry.add("worker.mongo.poll-interval", () -> "200ms");
        registry.add("worker.mongo.batch-size", () -> "3");
        registry.add("worker.mongo.lease", () -> LEASE.toSeconds() + "s");
    }

    @BeforeEach
    void emptyCollection() {
        if (client == null) {
            client = MongoClients.create(MONGO_URI);
            contexts = client.getDatabase("it").getCollection("contexts");
        }
        contexts.deleteMany(new Document());
    }

    @AfterEach
    void stopSecondWorker() {
        if (second != null) {
            second.close();
        }
    }

    @AfterAll
    static void stopMongo() {
        if (client != null) {
            client.close();
        }
        MONGO.shutdownNow();
    }

    static Document context(String taskId, String domain, String description) {
        return new Document("_id", "ctx-" + taskId).append("status", "pending").append("created_at", new Date())
                .append("task", new Document("task_id", taskId).append("domain", domain).append("description", description));
    }

    Document doc(String taskId) {
        return contexts.find(Filters.eq("_id", "ctx-" + taskId)).first();
    }

    @Test
    void resultsAndErrorsAreWrittenBackToTheirDocuments() throws Exception {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        LLM.respondWith(call -> Reply.text("```python\nprint('from mongo')\n```"));
        contexts.insertMany(List.of(context("mongo-ok-1", "code-general", "Write it"),
                context("mongo-ok-2", "documentation", "Document it"),
                context("mongo-bad", "cooking", "Bake bread"),
                new Document("_id", "ctx-no-task-id").append("status", "pending").append("created_at", new Date())
                        .append("task", new Document("domain", "code-general").append("description", "Anonymous"))));
        await().atMost(Duration.ofSeconds(30)).until(() ->
                contexts.countDocuments(Filters.in("status", "completed", "failed")) == 4);

        for (String id : List.of("mongo-ok-1", "mongo-ok-2")) {
            Document done = doc(id);
            assertThat(done.getString("status")).isEqualTo("completed");
            assertThat(done.getString("claimed_by")).isEqualTo("mongo-a");
            Document result = done.get("result", Document.class);
            assertThat(result.getString("task_id")).isEqualTo(id);
            assertThat(result.getString("status")).isEqualTo("completed");
            assertThat(parse(result.toJson())).isEqualTo(outputs.awaitJson(id, EVENT_TIMEOUT));
            assertThat(done.get("lease_expires_at")).isNull();
        }
        Document bad = doc("mongo-bad");
        assertThat(bad.getString("status")).isEqualTo("failed");
        assertThat(bad.get("error", Document.class).getString("error")).isEqualTo("invalid_task");
        assertThat(bad.get("error", Document.class).getString("reason")).contains("unknown domain 'cooking'");
        assertThat(failures.awaitJson("mongo-bad", EVENT_TIMEOUT).path("error").asText()).isEqualTo("invalid_task");
        // a task without task_id gets the document's _id
        Document anonymous = contexts.find(Filters.eq("_id", "ctx-no-task-id")).first();
        assertThat(anonymous.getString("status")).isEqualTo("completed");
        assertThat(anonymous.get("result", Document.class).getString("task_id")).isEqualTo("ctx-no-task-id");

        JsonNode health = parse(send(request("/health").GET().build()).body()).path("mongo_contexts");
        assertThat(health.path("state").asText()).isEqualTo("reachable");
        assertThat(health.path("collection").asText()).isEqualTo("contexts");
        assertThat(camelContext.getRoute("pull-queue")).as("pull intake not configured").isNull();
        for (String id : List.of("mongo-contexts", "mongo-context")) {
            String xml = org.apache.camel.support.PluginHelper.getModelToXMLDumper(camelContext).dumpModelAsXml(camelContext,
                    ((org.apache.camel.model.ModelCamelContext) camelContext).getRouteDefinition(id));
            assertThat(xml).as(id).contains("id=\"" + id + "\"");
        }
    }

    @Test
    void twoWorkersClaimExclusivelyAndAKilledWorkersClaimIsReclaimedAfterItsLease() throws Exception {
        startSecondWorker();
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("```python\nprint('claimed')\n```").delayed(Duration.ofMillis(300)));
        int count = 40;
        List<Document> batch = new ArrayList<>();
        for (int n = 0; n < count; n++) {
            batch.add(context("claim-" + n, "code-general", "Claim task number " + n + " once"));
        }
        contexts.insertMany(batch);
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(300)).until(() ->
                contexts.countDocuments(Filters.eq("status", "completed")) == count);

        Map<String, Long> byWorker = contexts.find().into(new ArrayList<>()).stream()
                .collect(Collectors.groupingBy(d -> d.getString("claimed_by"), Collectors.counting()));
        Map<String, Long> llmCalls = LLM.calls().stream().map(FakeLlmServer.LlmCall::prompt)
                .flatMap(prompt -> batch.stream().map(d -> d.get("task", Document.class).getString("description"))
                        .filter(prompt::contains))
                .collect(Collectors.groupingBy(Function.identity(), Collectors.counting()));
        long twice = llmCalls.values().stream().filter(n -> n > 1).count();
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(10)).until(() ->
                outputs.received().size() == count);
        System.out.printf("two workers, one collection: %d contexts, claimed by %s, processed twice: %d, "
                        + "task.output.created per task: %s%n", count, byWorker, twice,
                outputs.received().values().stream().map(List::size).distinct().toList());
        assertThat(byWorker.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(count);
        assertThat(byWorker).containsKeys("mongo-a", "mongo-b");
        assertThat(llmCalls).hasSize(count);
        assertThat(twice).isZero();
        assertThat(outputs.received().values()).allSatisfy(messages -> assertThat(messages).hasSize(1));
        assertThat(contexts.countDocuments(Filters.ne("attempts", 1))).isZero();

        // SIGKILL the second worker while it holds a claim: the claim is taken over by this worker after the lease
        LLM.respondWith(call -> Reply.text("```python\nprint('reclaimed')\n```").delayed(Duration.ofMillis(1500)));
        List<Document> more = new ArrayList<>();
        for (int n = 0; n < 8; n++) {
            more.add(context("kill-" + n, "code-general", "Kill task " + n));
        }
        contexts.insertMany(more);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20)).until(() ->
                contexts.countDocuments(Filters.and(Filters.eq("status", "claimed"), Filters.eq("claimed_by", "mongo-b"))) > 0);
        second.kill();
        long killed = System.currentTimeMillis();
        List<Document> orphaned = contexts.find(Filters.and(Filters.eq("status", "claimed"), Filters.eq("claimed_by", "mongo-b")))
                .into(new ArrayList<>());
        assertThat(orphaned).isNotEmpty();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                contexts.countDocuments(Filters.and(Filters.regex("_id", "^ctx-kill-"), Filters.eq("status", "completed"))) == 8);
        for (Document before : orphaned) {
            Document after = contexts.find(Filters.eq("_id", before.get("_id"))).first();
            long reclaimedAfter = after.getDate("claimed_at").getTime() - before.getDate("claimed_at").getTime();
            System.out.printf("context %s claimed by the killed worker, reclaimed by %s %d ms after its claim "
                            + "(lease %d s), attempts %d, status %s%n", before.get("_id"), after.getString("claimed_by"),
                    reclaimedAfter, LEASE.toSeconds(), after.getInteger("attempts"), after.getString("status"));
            assertThat(after.getString("claimed_by")).isEqualTo("mongo-a");
            assertThat(after.getInteger("attempts")).isEqualTo(2);
            assertThat(reclaimedAfter).isGreaterThanOrEqualTo(LEASE.toMillis());
            String taskId = before.get("task", Document.class).getString("task_id");
            assertThat(after.get("result", Document.class).getString("task_id")).isEqualTo(taskId);
            assertThat(outputs.of(taskId)).hasSize(1);
        }
        System.out.printf("SIGKILL: %d claim(s) of the killed worker reclaimed, all 8 contexts completed %d ms after the kill%n",
                orphaned.size(), System.currentTimeMillis() - killed);
    }

    private void startSecondWorker() {
        second = WorkerJar.start("mongo-second-worker", Map.ofEntries(
                Map.entry("spring.rabbitmq.virtual-host", BROKER.vhost),
                Map.entry("worker.id", "mongo-b"),
                Map.entry("worker.rag.url", RAG.url()),
                Map.entry("worker.rag.timeout", "1s"),
                Map.entry("worker.mongo.uri", MONGO_URI),
                Map.entry("worker.mongo.database", "it"),
                Map.entry("worker.mongo.poll-interval", "200ms"),
                Map.entry("worker.mongo.batch-size", "3"),
                Map.entry("worker.mongo.lease", LEASE.toSeconds() + "s"),
                Map.entry("worker.tiers.small.base-url", LLM.ollamaBaseUrl()),
                Map.entry("worker.tiers.small.timeout", "30s")));
    }
}
