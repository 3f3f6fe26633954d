package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeQueueServer;
import io.dats.worker.support.FakeQueueServer.Call;
import org.apache.camel.CamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The pull-based HTTP queue intake (seed 003) against a loopback queue service: one report per task, the backoff
 * schedule while the service is down and the recovery, a report retried until delivered, and the per-tier bound with
 * pull, queue and REST tasks for one tier together.
 */
class PullQueueIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("pull-queue");
    static final FakeQueueServer QUEUE = new FakeQueueServer().start();
    static final String API_KEY = "queue-key-" + java.util.UUID.randomUUID();
    static final Duration BASE = Duration.ofMillis(200);
    static final Duration MAX = Duration.ofMillis(1200);
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final String SMALL = "gemma3:12b";
    static final int SMALL_CONCURRENCY = 2;

    @Autowired
    CamelContext camelContext;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.id", () -> "pull-it-worker");
        registry.add("worker.pull.url", QUEUE::url);
        registry.add("worker.pull.api-key", () -> API_KEY);
        registry.add("worker.pull.interval", () -> "100ms");
        registry.add("worker.pull.backoff-base", () -> BASE.toMillis() + "ms");
        registry.add("worker.pull.backoff-max", () -> MAX.toMillis() + "ms");
        registry.add("worker.pull.timeout", () -> "2s");
        registry.add("worker.tiers.small.concurrency", () -> SMALL_CONCURRENCY);
    }

    @BeforeEach
    void resetQueue() {
        QUEUE.reset();
    }

    @AfterEach
    void serviceBackUp() {
        QUEUE.dropConnections(false);
        QUEUE.start();
        // the worker answers again before the next test starts
        await().atMost(Duration.ofSeconds(10)).until(() -> "reachable".equals(pullHealth().path("state").asText()));
    }

    @Test
    void aBatchEndsWithExactlyOneReportPerTask() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        LLM.respondWith(call -> call.prompt().contains("explode")
                ? Reply.error(500, "model crashed")
                : Reply.text("```python\nprint('pulled')\n```"));
        List<String> valid = new ArrayList<>();
        for (int n = 0; n < 8; n++) {
            String id = "pull-batch-" + n;
            valid.add(id);
            QUEUE.add(task(id, n % 2 == 0 ? "code-general" : "documentation", "Write pulled task " + n));
        }
        Map<String, String> failing = new LinkedHashMap<>();
        failing.put("pull-bad-domain", "invalid_task");
        failing.put("pull-no-description", "invalid_task");
        failing.put("pull-llm-fails", "llm_failed");
        QUEUE.add(task("pull-bad-domain", "cooking", "Bake bread"));
        QUEUE.add(json(Map.of("task_id", "pull-no-description", "domain", "code-general")));
        QUEUE.add(json(Map.of("task_id", "pull-llm-fails", "domain", "code-general", "tier", "tiny",
                "description", "explode please")));

        List<String> all = new ArrayList<>(valid);
        all.addAll(failing.keySet());
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                .until(() -> all.stream().allMatch(id -> !QUEUE.reportsOf(id).isEmpty()));
        // no second report nor hand-out turns up
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() ->
                all.stream().allMatch(id -> QUEUE.reportsOf(id).size() == 1 && QUEUE.handedOut(id) == 1));

        for (String id : valid) {
            FakeQueueServer.Report report = QUEUE.reportsOf(id).get(0);
            assertThat(report.kind()).as(id).isEqualTo("complete");
            assertThat(report.body().path("task_id").asText()).isEqualTo(id);
            assertThat(report.body().path("status").asText()).isEqualTo("completed");
            assertThat(outputs.awaitJson(id, EVENT_TIMEOUT)).isEqualTo(report.body());
        }
        failing.forEach((id, error) -> {
            FakeQueueServer.Report report = QUEUE.reportsOf(id).get(0);
            assertThat(report.kind()).as(id).isEqualTo("fail");
            assertThat(report.body().path("error").asText()).as(id).isEqualTo(error);
            assertThat(failures.awaitJson(id, EVENT_TIMEOUT)).isEqualTo(report.body());
        });
        assertThat(parse(QUEUE.reportsOf("pull-llm-fails").get(0).body().toString()).path("attempts").asInt()).isEqualTo(3);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() ->
                all.stream().allMatch(id -> outputs.of(id).size() + failures.of(id).size() == 1));
        // every call carried the API key; the worker held one pulled task at a time
        assertThat(QUEUE.calls()).isNotEmpty().allSatisfy(call -> assertThat(call.apiKey()).isEqualTo(API_KEY));
        assertThat(maxHeld(QUEUE.calls())).isEqualTo(1);
        System.out.printf("pull batch: %d tasks, %d complete and %d fail reports, handed out once each, %d polls%n",
                all.size(), QUEUE.reports().stream().filter(r -> r.kind().equals("complete")).count(),
                QUEUE.reports().stream().filter(r -> r.kind().equals("fail")).count(),
                QUEUE.calls().stream().filter(Call::isPoll).count());
    }

    @Test
    void backsOffFiveTenFifteenUpToThirtyTimesTheBaseWhileTheServiceIsDownAndRecovers() {
        QUEUE.dropConnections(true);
        // 1 + 7 failed polls: gaps 1, 2, 3, 4, 5, 6, 6 x base
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> attempts(droppedPolls()).size() >= 8);
        List<Call> connections = droppedPolls();
        List<Call> failed = attempts(connections).subList(0, 8);
        List<Long> gaps = FakeQueueServer.gapsMillis(failed);
        System.out.printf("connections while down: %d for %d attempts (the JDK client retries a stale keep-alive "
                + "connection at once: gaps %s ms)%n", connections.size(), attempts(connections).size(),
                FakeQueueServer.gapsMillis(connections));
        JsonNode health = pullHealth();
        assertThat(health.path("url").asText()).isEqualTo(QUEUE.url());
        assertThat(health.path("state").asText()).isEqualTo("backing_off");
        assertThat(health.path("last_error").asText()).contains("GET /tasks/next");
        double scale = 5000.0 / BASE.toMillis();
        System.out.printf("backoff while the queue service is down (base %d ms, max %d ms): gaps %s ms; "
                        + "scaled to the 5 s base: %s s%n", BASE.toMillis(), MAX.toMillis(), gaps,
                gaps.stream().map(g -> String.format("%.1f", g * scale / 1000)).collect(Collectors.joining(", ")));
        for (int i = 0; i < gaps.size(); i++) {
            long expected = Math.min(BASE.toMillis() * (i + 1), MAX.toMillis());
            assertThat(gaps.get(i)).as("gap %d", i + 1).isBetween(expected - 20, expected + 400);
        }

        // down for good (connection refused), then back: the worker polls again and runs the waiting task
        QUEUE.stop();
        await().atMost(Duration.ofSeconds(10)).until(() -> pullHealth().path("last_error").asText().contains("ConnectException"));
        QUEUE.add(task("pull-after-outage", "code-general", "Back again"));
        QUEUE.dropConnections(false);
        QUEUE.start();
        long back = System.nanoTime();
        await().atMost(Duration.ofSeconds(30)).until(() -> !QUEUE.reportsOf("pull-after-outage").isEmpty());
        System.out.printf("recovery: the waiting task was reported %d ms after the service came back%n",
                (System.nanoTime() - back) / 1_000_000);
        assertThat(QUEUE.reportsOf("pull-after-outage").get(0).kind()).isEqualTo("complete");
        assertThat(pullHealth().path("state").asText()).isEqualTo("reachable");
    }

    @Test
    void anUndeliverableReportIsRetriedWithTheBackoffAndNotLost() {
        QUEUE.refuseReports(4);
        QUEUE.add(task("pull-report-retried", "code-general", "Report me"));
        QUEUE.add(task("pull-after-report", "code-general", "Next one"));
        await().atMost(Duration.ofSeconds(30)).until(() -> !QUEUE.reportsOf("pull-after-report").isEmpty());

        List<Call> calls = QUEUE.calls();
        List<Call> attempts = calls.stream().filter(c -> c.isReport() && "pull-report-retried".equals(c.reportedTask())).toList();
        assertThat(attempts).hasSize(5);
        assertThat(attempts.subList(0, 4)).allSatisfy(c -> assertThat(c.status()).isEqualTo(503));
        assertThat(attempts.get(4).status()).isEqualTo(200);
        assertThat(QUEUE.reportsOf("pull-report-retried")).hasSize(1);
        // no poll while the report was pending: the second task was handed out only after the report was taken
        int first = calls.indexOf(attempts.get(0));
        int delivered = calls.indexOf(attempts.get(4));
        assertThat(calls.subList(first, delivered)).noneMatch(Call::isPoll);
        List<Long> gaps = FakeQueueServer.gapsMillis(attempts);
        System.out.printf("report refused 4 times: retried after %s ms, delivered once, no poll meanwhile%n", gaps);
        for (int i = 0; i < gaps.size(); i++) {
            long expected = Math.min(BASE.toMillis() * (i + 1), MAX.toMillis());
            assertThat(gaps.get(i)).isBetween(expected - 20, expected + 400);
        }
    }

    @Test
    void theTierBoundHoldsWithPullQueueAndRestTasksTogether() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("```python\nslow = True\n```").delayed(Duration.ofMillis(1500)));
        QUEUE.probeOnHandout(() -> LLM.inFlight(SMALL));
        List<String> queued = new ArrayList<>();
        for (int n = 0; n < 3; n++) {
            queued.add("bound-queue-" + n);
            BROKER.publishTask("small", task("bound-queue-" + n, "code-general", "slow queued " + n));
        }
        List<CompletableFuture<HttpResponse<String>>> rest = new ArrayList<>();
        for (int n = 0; n < 3; n++) {
            rest.add(executeAsync(task("bound-rest-" + n, "code-general", "slow rest " + n)));
        }
        List<String> pulled = new ArrayList<>();
        for (int n = 0; n < 4; n++) {
            pulled.add("bound-pull-" + n);
            QUEUE.add(task("bound-pull-" + n, "code-general", "slow pulled " + n));
        }
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() ->
                outputs.received().keySet().containsAll(queued)
                        && pulled.stream().allMatch(id -> !QUEUE.reportsOf(id).isEmpty())
                        && rest.stream().allMatch(CompletableFuture::isDone));

        rest.forEach(response -> assertThat(response.join().statusCode()).isEqualTo(200));
        List<Integer> inFlightAtHandout = QUEUE.calls().stream().filter(c -> c.isPoll() && c.status() == 200)
                .map(Call::probe).toList();
        System.out.printf("bound with pull, queue and REST on tier small: max in flight %d of concurrency %d over %d "
                        + "calls; LLM calls in flight when each pulled task was handed out: %s%n",
                LLM.maxInFlight(SMALL), SMALL_CONCURRENCY, LLM.requestCount(SMALL), inFlightAtHandout);
        assertThat(LLM.maxInFlight(SMALL)).isEqualTo(SMALL_CONCURRENCY);
        assertThat(LLM.requestCount(SMALL)).isEqualTo(10);
        assertThat(inFlightAtHandout).hasSize(4).allSatisfy(n -> assertThat(n).isLessThan(SMALL_CONCURRENCY));
        assertThat(maxHeld(QUEUE.calls())).isEqualTo(1);
    }

    @Test
    void theIntakeRoutesExistBecauseTheUrlIsSetAndDumpAsXml() throws Exception {
        assertThat(camelContext.getRoute("mongo-contexts")).as("MongoDB intake not configured").isNull();
        for (String id : List.of("pull-queue", "pull-task", "pull-publish-failure", "pull-report")) {
            assertThat(camelContext.getRoute(id)).as(id).isNotNull();
            String xml = org.apache.camel.support.PluginHelper.getModelToXMLDumper(camelContext).dumpModelAsXml(camelContext,
                    ((org.apache.camel.model.ModelCamelContext) camelContext).getRouteDefinition(id));
            assertThat(xml).as(id).contains("id=\"" + id + "\"");
        }
    }

    static List<Call> droppedPolls() {
        return QUEUE.calls().stream().filter(c -> c.isPoll() && c.status() == 0).toList();
    }

    /**
     * One attempt of the worker per group of connections less than 100 ms apart: when the service drops a
     * connection the JDK HTTP client retries a GET once at once on a fresh connection (a stale keep-alive connection
     * is not a failure of the service), so one call of the worker may reach the service twice.
     */
    static List<Call> attempts(List<Call> connections) {
        List<Call> attempts = new ArrayList<>();
        for (Call call : connections) {
            if (attempts.isEmpty() || call.nanos() - connections.get(connections.indexOf(call) - 1).nanos() >= 100_000_000L) {
                attempts.add(call);
            }
        }
        return attempts;
    }

    /** The most pulled tasks handed out and not yet reported at any moment. */
    static int maxHeld(List<Call> calls) {
        int held = 0;
        int max = 0;
        for (Call call : calls) {
            if (call.isPoll() && call.status() == 200) {
                max = Math.max(max, ++held);
            } else if (call.isReport() && call.status() == 200) {
                held--;
            }
        }
        return max;
    }

    JsonNode pullHealth() {
        return parse(send(request("/health").GET().build()).body()).path("pull_queue");
    }
}
