package io.dats.worker.it;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SIGTERM, as every deploy sends it, to the worker started from the built jar ({@code java -jar}), with LLM calls in
 * flight: the worker stops taking tasks, answers new REST calls 503, lets the calls in flight finish, publishes and
 * acknowledges their outcomes, and exits; the tasks it had not started stay in their queue. With a drain budget shorter
 * than the calls, the unfinished deliveries go back to the queue un-acknowledged.
 */
class GracefulShutdownIT {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static final FakeLlmServer LLM = new FakeLlmServer().start();
    static final FakeRagServer RAG = new FakeRagServer().start();
    static final String SMALL_MODEL = "gemma3:12b";
    static final int SMALL_CONCURRENCY = 2;

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    TestBroker broker;
    WorkerJar worker;

    @BeforeEach
    void reset() {
        LLM.reset();
        RAG.reset();
    }

    @AfterEach
    void stopWorker() {
        if (worker != null) {
            worker.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @AfterAll
    static void stopServers() {
        LLM.close();
        RAG.close();
    }

    @Test
    void sigtermLetsTheTasksInFlightFinishAndLeavesTheOthersQueued() throws Exception {
        broker = TestBroker.named("shutdown-drain");
        start("60s");
        EventInbox outputs = EventInbox.events(broker, "task.output.created");
        LLM.respondWith(call -> Reply.text("```python\nprint('drained')\n```").delayed(Duration.ofSeconds(8)));
        int published = SMALL_CONCURRENCY + 3;
        for (int n = 0; n < published; n++) {
            broker.publishTask("small", task("drain-" + n));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> LLM.inFlight(SMALL_MODEL) == SMALL_CONCURRENCY);

        long sigterm = System.nanoTime();
        worker.signalTerminate();
        HttpResponse<String> rest = awaitStoppingAnswer("/api/v1/execute");
        HttpResponse<String> health = awaitStoppingAnswer("/health");
        worker.awaitExit(Duration.ofSeconds(60));
        Duration drain = Duration.ofNanos(System.nanoTime() - sigterm);

        System.out.printf("SIGTERM with %d LLM calls in flight (8 s each): exit after %d ms, code %d%n",
                SMALL_CONCURRENCY, drain.toMillis(), worker.exitValue());
        assertThat(rest.statusCode()).isEqualTo(503);
        assertThat(rest.headers().firstValue("Retry-After")).isPresent();
        assertThat(MAPPER.readTree(rest.body()).path("error").asText()).isEqualTo("shutting_down");
        assertThat(health.statusCode()).isEqualTo(503);
        // the calls in flight finished and their outcomes were published, once each
        List<String> finished = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            finished.clear();
            outputs.received().forEach((id, messages) -> {
                assertThat(messages).as(id).hasSize(1);
                finished.add(id);
            });
            return finished.size() >= SMALL_CONCURRENCY;
        });
        assertThat(LLM.requestCount(SMALL_MODEL)).as("no task was started after SIGTERM").isEqualTo(finished.size());
        // ...and acknowledged: what is left in the queue is exactly what was never started
        assertThat(broker.messageCount("worker-service.small")).isEqualTo(published - finished.size());
        assertThat(drain).isLessThan(Duration.ofSeconds(40));
    }

    @Test
    void aTaskThatCannotFinishWithinTheBudgetGoesBackToItsQueue() throws Exception {
        broker = TestBroker.named("shutdown-budget");
        start("3s");
        EventInbox outputs = EventInbox.events(broker, "task.output.created");
        LLM.respondWith(call -> Reply.text("```python\nprint('late')\n```").delayed(Duration.ofSeconds(20)));
        broker.publishTask("small", task("budget-0"));
        await().atMost(Duration.ofSeconds(30)).until(() -> LLM.inFlight(SMALL_MODEL) == 1);

        long sigterm = System.nanoTime();
        worker.signalTerminate();
        worker.awaitExit(Duration.ofSeconds(60));
        System.out.printf("SIGTERM with a 20 s call and a 3 s drain budget: exit after %d ms%n",
                Duration.ofNanos(System.nanoTime() - sigterm).toMillis());
        LLM.releaseDelayed();

        await().atMost(Duration.ofSeconds(10)).until(() -> broker.messageCount("worker-service.small") == 1);
        assertThat(outputs.received()).isEmpty();
    }

    private void start(String drainTimeout) {
        worker = WorkerJar.start("graceful-shutdown", Map.of(
                "spring.rabbitmq.virtual-host", broker.vhost,
                "worker.rag.url", RAG.url(),
                "worker.rag.timeout", "1s",
                "worker.shutdown.drain-timeout", drainTimeout,
                "worker.tiers.small.base-url", LLM.ollamaBaseUrl(),
                "worker.tiers.small.concurrency", Integer.toString(SMALL_CONCURRENCY),
                "worker.tiers.small.timeout", "30s",
                "worker.tiers.small.max-attempts", "1"));
    }

    private HttpResponse<String> awaitStoppingAnswer(String path) {
        List<HttpResponse<String>> answer = new ArrayList<>();
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
            HttpResponse<String> response = path.endsWith("execute")
                    ? http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(5))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(task("rest-during-shutdown"))).build(),
                            HttpResponse.BodyHandlers.ofString())
                    : worker.get(path);
            answer.clear();
            answer.add(response);
            return response.statusCode() == 503;
        });
        return answer.get(0);
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + worker.port() + path);
    }

    private static String task(String id) throws IOException {
        return MAPPER.writeValueAsString(Map.of("task_id", id, "domain", "code-general", "description", "Write " + id));
    }

    static JsonNode parse(String json) throws IOException {
        return MAPPER.readTree(json);
    }
}
