package io.dats.worker.it;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.identity.WorkerLifecycle;
import io.dats.worker.identity.WorkerStatus;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRegistryServer;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The seed clients' contracts end to end (seeds 001 and 002): {@code GET /info} and the status sequence,
 * {@code POST /v1/infer} with and without streaming (SSE read token by token by java.net.http), the per-tier bound
 * shared by queued tasks and infer calls, {@code GET /metrics}, and heartbeats to a loopback registry, including a
 * registry outage ({@code stopped} on shutdown: WorkerLifecycleIT, on the built jar).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SeedContractsIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("seed-contracts");
    static final FakeRegistryServer REGISTRY = new FakeRegistryServer().start();
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);
    static final String WORKER_ID = "seed-it-worker";
    static final String LARGE_MODEL = "openai/gpt-oss-20b";

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Autowired
    WorkerLifecycle lifecycle;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.id", () -> WORKER_ID);
        registry.add("worker.registry.url", REGISTRY::url);
        registry.add("worker.registry.interval", () -> "500ms");
        registry.add("worker.registry.timeout", () -> "1s");
    }

    private JsonNode getJson(String path) {
        HttpResponse<String> response = send(request(path).GET().build());
        assertThat(response.statusCode()).as(path + ": " + response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
        return parse(response.body());
    }

    private String status() {
        return getJson("/info").path("status").asText();
    }

    private CompletableFuture<HttpResponse<String>> inferAsync(String body) {
        return client.sendAsync(request("/v1/infer").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> infer(String body) {
        return inferAsync(body).join();
    }

    /** One SSE answer read line by line as it arrives: the tokens, when the first came, and the last data line. */
    record Streamed(int status, String contentType, List<String> tokens, Instant firstTokenAt, String lastData) {
    }

    private Streamed stream(String body) throws Exception {
        HttpResponse<Stream<String>> response = client.send(request("/v1/infer").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofLines());
        List<String> tokens = new ArrayList<>();
        Instant firstTokenAt = null;
        String lastData = null;
        try (Stream<String> lines = response.body()) {
            Iterator<String> it = lines.iterator();
            while (it.hasNext()) {
                String line = it.next();
                if (!line.startsWith("data: ")) {
                    continue;
                }
                lastData = line.substring("data: ".length());
                if (lastData.startsWith("{") && parse(lastData).has("token")) {
                    if (firstTokenAt == null) {
                        firstTokenAt = Instant.now();
                    }
                    tokens.add(parse(lastData).path("token").asText());
                }
            }
        }
        return new Streamed(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""), tokens,
                firstTokenAt, lastData);
    }

    @Test
    @Order(1)
    void infoAnswersTheSeedFields() {
        JsonNode info = getJson("/info");
        assertThat(info.path("id").asText()).isEqualTo(WORKER_ID);
        assertThat(info.path("model_id").asText()).isEqualTo("gemma3:12b");
        assertThat(info.path("device").asText()).isEqualTo("cpu");
        assertThat(info.path("port").asInt()).isEqualTo(port);
        assertThat(info.path("status").asText()).isEqualTo("ready");
        assertThat(info.path("implementation").asText()).isEqualTo("llm-task-worker");
        assertThat(info.path("version").asText()).isNotBlank();
        assertThat(info.path("models").path("large").asText()).isEqualTo(LARGE_MODEL);
        assertThat(send(request("/info").POST(HttpRequest.BodyPublishers.noBody()).build()).statusCode())
                .as("only GET").isGreaterThanOrEqualTo(400);
    }

    @Test
    @Order(2)
    void statusIsBusyWhileAnLlmCallIsInFlightThenReadyAgain() {
        REGISTRY.clear();
        EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text(DEFAULT_ANSWER).delayed(Duration.ofSeconds(60)));
        CompletableFuture<HttpResponse<String>> task = executeAsync(task("busy-1", "code-general", "Create fibonacci function"));
        await().atMost(Duration.ofSeconds(30)).until(() -> "busy".equals(status()));
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.BUSY);
        await().atMost(Duration.ofSeconds(10)).until(() -> REGISTRY.heartbeats().stream()
                .anyMatch(beat -> "busy".equals(beat.path("worker").path("status").asText())));
        LLM.releaseDelayed();
        assertThat(task.join().statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(() -> "ready".equals(status()));
    }

    static final String DEFAULT_ANSWER = "Here is the code.\n\n```python\nprint('hello')\n```\n";

    @Test
    @Order(3)
    void inferAnswersTextTokensAndDurationWithTheRequestsLimits() {
        LLM.respondWith(call -> Reply.text("Hello! How can I help you today?").withUsage(4, 8));
        HttpResponse<String> response = infer("{\"prompt\":\"Hello, world!\",\"max_tokens\":100,\"temperature\":0.7,\"stream\":false}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode answer = parse(response.body());
        assertThat(answer.path("text").asText()).isEqualTo("Hello! How can I help you today?");
        assertThat(answer.path("tokens_generated").asInt()).isEqualTo(8);
        assertThat(answer.path("duration_ms").isIntegralNumber()).isTrue();
        assertThat(answer.path("duration_ms").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(answer.path("tier").asText()).isEqualTo("small");
        JsonNode sent = LLM.calls().get(LLM.calls().size() - 1).request();
        assertThat(sent.path("model").asText()).isEqualTo("gemma3:12b");
        assertThat(sent.path("options").path("num_predict").asInt()).isEqualTo(100);
        assertThat(sent.path("options").path("temperature").asDouble()).isEqualTo(0.7);

        HttpResponse<String> large = infer("{\"prompt\":\"Hello\",\"max_tokens\":50,\"tier\":\"large\"}");
        assertThat(large.statusCode()).as(large.body()).isEqualTo(200);
        assertThat(parse(large.body()).path("tokens_generated").asInt()).isEqualTo(8);
        JsonNode sentLarge = LLM.calls().get(LLM.calls().size() - 1).request();
        assertThat(sentLarge.path("model").asText()).isEqualTo(LARGE_MODEL);
        assertThat(sentLarge.path("max_tokens").asInt()).isEqualTo(50);
        assertThat(sentLarge.path("stream").asBoolean(false)).isFalse();
    }

    @ParameterizedTest
    @Order(4)
    @CsvSource(delimiter = '|', value = {
            "{\"max_tokens\":10}                          | prompt is required",
            "{\"prompt\":\"p\",\"tier\":\"gpu\"}          | unknown tier 'gpu'",
            "{\"prompt\":\"p\",\"max_tokens\":\"many\"}   | max_tokens must be an integer",
            "{\"prompt\":\"p\",\"max_tokens\":100000}     | max_tokens must be between 1 and 4096",
            "{\"prompt\":\"p\",\"temperature\":\"warm\"}  | temperature must be a number",
            "{\"prompt\":\"p\",\"stream\":\"yes\"}        | stream must be a boolean",
            "{\"prompt\":[\"p\"]}                         | prompt must be a non-empty string",
            "not json                                     | the body is not valid JSON",
    })
    void inferRefusesBadInputWith400(String body, String detail) {
        HttpResponse<String> response = infer(body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
        JsonNode error = parse(response.body());
        assertThat(error.path("error").asText()).isEqualTo("invalid_request");
        assertThat(error.path("detail").asText()).contains(detail);
        assertThat(LLM.calls()).isEmpty();
    }

    @Test
    @Order(5)
    void inferAnswers502WhenTheModelFailsBeforeAnswering() throws Exception {
        LLM.respondWith(call -> Reply.error(500, "model crashed"));
        HttpResponse<String> response = infer("{\"prompt\":\"Hello\"}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(502);
        assertThat(parse(response.body()).path("error").asText()).isEqualTo("llm_failed");

        HttpResponse<String> streamed = infer("{\"prompt\":\"Hello\",\"stream\":true,\"tier\":\"large\"}");
        assertThat(streamed.statusCode()).as(streamed.body()).isEqualTo(502);
        assertThat(parse(streamed.body()).path("error").asText()).isEqualTo("llm_failed");
        assertThat(status()).isEqualTo("ready");
    }

    @ParameterizedTest
    @Order(6)
    @CsvSource({"small", "large", "frontier"})
    void streamsEachTokenAsTheModelProducesIt(String tier) throws Exception {
        String text = "one two three four five six seven";
        LLM.respondWith(call -> Reply.text(text).withUsage(3, 7));
        LLM.streamChunkDelay(Duration.ofMillis(250));

        Streamed streamed = stream(json(Map.of("prompt", "Count to seven", "max_tokens", 64, "temperature", 0.2,
                "stream", true, "tier", tier)));

        assertThat(streamed.status()).isEqualTo(200);
        assertThat(streamed.contentType()).startsWith("text/event-stream");
        assertThat(String.join("", streamed.tokens())).isEqualTo(text);
        assertThat(streamed.tokens()).hasSizeGreaterThanOrEqualTo(7);
        assertThat(streamed.lastData()).isEqualTo("[DONE]");
        assertThat(LLM.calls().get(LLM.calls().size() - 1).streaming()).isTrue();
        // seven pieces 250 ms apart: the first token reached the client while the model still had ~1.5 s to go
        assertThat(streamed.firstTokenAt()).isBefore(LLM.lastStreamEnd().minusMillis(750));
        await().atMost(Duration.ofSeconds(5)).until(() -> "ready".equals(status()));
    }

    @Test
    @Order(7)
    void queuedTasksAndInferCallsTogetherStayWithinTheTiersBound() throws Exception {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text(DEFAULT_ANSWER).withUsage(10, 5).delayed(Duration.ofSeconds(2)));
        LLM.streamChunkDelay(Duration.ofMillis(100));
        for (int i = 0; i < 3; i++) {
            BROKER.publishTask("large", task("bound-" + i, "code-general", "Create fibonacci function " + i));
        }
        List<CompletableFuture<HttpResponse<String>>> plain = new ArrayList<>();
        List<CompletableFuture<Streamed>> streams = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            plain.add(inferAsync("{\"prompt\":\"plain " + i + "\",\"tier\":\"large\"}"));
            int n = i;
            streams.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return stream("{\"prompt\":\"streamed " + n + "\",\"tier\":\"large\",\"stream\":true}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (int i = 0; i < 3; i++) {
            assertThat(outputs.awaitJson("bound-" + i, EVENT_TIMEOUT).path("status").asText()).isEqualTo("completed");
        }
        for (CompletableFuture<HttpResponse<String>> call : plain) {
            assertThat(call.join().statusCode()).isEqualTo(200);
        }
        for (CompletableFuture<Streamed> call : streams) {
            assertThat(call.join().lastData()).isEqualTo("[DONE]");
        }
        assertThat(LLM.requestCount(LARGE_MODEL)).isEqualTo(7);
        assertThat(LLM.maxInFlight(LARGE_MODEL)).as("calls in flight at the large tier's server, concurrency 2").isEqualTo(2);
    }

    @Test
    @Order(8)
    void metricsSummariseTasksTiersDomainsAndTokens() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        JsonNode before = getJson("/metrics");
        LLM.respondWith(call -> call.prompt().contains("FAIL-ME") ? Reply.error(400, "bad request")
                : Reply.text("# Guide\n\nText.\n").withUsage(100, 23));
        BROKER.publishTask("small", task("metrics-ok", "documentation", "Write a guide"));
        BROKER.publishTask("small", task("metrics-failed", "code-general", "FAIL-ME please"));
        assertThat(execute(task("metrics-rest", "documentation", "Write another guide")).statusCode()).isEqualTo(200);
        outputs.await("metrics-ok", EVENT_TIMEOUT);
        failures.await("metrics-failed", EVENT_TIMEOUT);

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode after = getJson("/metrics");
            assertThat(delta(before, after, "tasks_completed")).isEqualTo(2);
            assertThat(delta(before, after, "tasks_failed")).isEqualTo(1);
            assertThat(delta(before, after, "tiers", "small", "tasks_completed")).isEqualTo(2);
            assertThat(delta(before, after, "tiers", "small", "tasks_failed")).isEqualTo(1);
            assertThat(delta(before, after, "domains", "documentation", "tasks_completed")).isEqualTo(2);
            assertThat(delta(before, after, "domains", "documentation", "tokens", "output")).isEqualTo(46);
            assertThat(delta(before, after, "domains", "documentation", "tokens", "input")).isEqualTo(200);
            assertThat(delta(before, after, "domains", "code-general", "tasks_failed")).isEqualTo(1);
            assertThat(delta(before, after, "tiers", "small", "tokens", "total")).isEqualTo(246);
            assertThat(after.path("average_execution_time").asDouble()).isGreaterThan(0);
            assertThat(after.path("uptime_seconds").asLong()).isGreaterThan(0);
            assertThat(after.path("cpu_cores").asInt()).isEqualTo(Runtime.getRuntime().availableProcessors());
            assertThat(after.path("memory_total_gb").asDouble()).isGreaterThan(0);
            assertThat(after.path("tasks_queued").isInt()).isTrue();
            assertThat(after.path("tiers").path("large").path("concurrency").asInt()).isEqualTo(2);
        });
        // infer calls count per tier with their tokens
        JsonNode beforeInfer = getJson("/metrics");
        assertThat(infer("{\"prompt\":\"Hello\",\"tier\":\"tiny\"}").statusCode()).isEqualTo(200);
        JsonNode afterInfer = getJson("/metrics");
        assertThat(delta(beforeInfer, afterInfer, "tiers", "tiny", "infer_calls")).isEqualTo(1);
        assertThat(delta(beforeInfer, afterInfer, "tiers", "tiny", "tokens", "output")).isEqualTo(23);
    }

    private static long delta(JsonNode before, JsonNode after, String... path) {
        JsonNode b = before;
        JsonNode a = after;
        for (String key : path) {
            b = b.path(key);
            a = a.path(key);
        }
        assertThat(a.isNumber()).as(String.join(".", path) + " in " + after).isTrue();
        return a.asLong() - b.asLong(0);
    }

    @Test
    @Order(9)
    void heartbeatsCarryTheInfoAndARegistryOutageLeavesTheWorkerUnaffected() {
        await().atMost(Duration.ofSeconds(10)).until(() -> REGISTRY.heartbeats().size() >= 2);
        JsonNode beat = REGISTRY.heartbeats().get(REGISTRY.heartbeats().size() - 1);
        assertThat(beat.path("worker").path("id").asText()).isEqualTo(WORKER_ID);
        assertThat(beat.path("worker").path("port").asInt()).isEqualTo(port);
        assertThat(beat.path("worker").path("model_id").asText()).isEqualTo("gemma3:12b");
        assertThat(Instant.parse(beat.path("timestamp").asText())).isAfter(Instant.now().minusSeconds(30));

        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        for (FakeRegistryServer.Mode outage : List.of(FakeRegistryServer.Mode.HANG, FakeRegistryServer.Mode.REFUSE)) {
            REGISTRY.mode(outage);
            REGISTRY.clear();
            await().atMost(Duration.ofSeconds(10)).until(() -> REGISTRY.refused() >= 2);
            String id = "registry-" + outage.name().toLowerCase();
            BROKER.publishTask("small", task(id + "-queued", "code-general", "Create fibonacci function"));
            long start = System.nanoTime();
            HttpResponse<String> rest = execute(task(id + "-rest", "code-general", "Create fibonacci function"));
            assertThat(rest.statusCode()).isEqualTo(200);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("REST task while the registry is " + outage)
                    .isLessThan(Duration.ofSeconds(20));
            assertThat(outputs.awaitJson(id + "-queued", EVENT_TIMEOUT).path("status").asText()).isEqualTo("completed");
            assertThat(status()).isEqualTo("ready");
        }
        REGISTRY.mode(FakeRegistryServer.Mode.ACCEPT);
        REGISTRY.clear();
        await().atMost(Duration.ofSeconds(10)).until(() -> !REGISTRY.heartbeats().isEmpty());
    }
}
