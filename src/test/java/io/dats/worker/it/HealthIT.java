package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.api.WorkerHealth;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.api.management.ManagedCamelContext;
import org.apache.camel.api.management.mbean.ManagedRouteMBean;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The probe groups and {@code /health} of the whole worker on the machine's broker (a fresh virtual host): the
 * coding tier's LLM endpoint and the RAG service point at closed ports, every other tier at the fake LLM server.
 */
class HealthIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("health");
    static final int DEAD_LLM_PORT = closedPort();
    static final int DEAD_RAG_PORT = closedPort();
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final List<String> PROBES = List.of("/actuator/health/liveness", "/actuator/health/readiness", "/livez", "/readyz");

    @Autowired
    CamelContext camelContext;

    @Autowired
    WorkerHealth workerHealth;

    @Autowired
    RabbitAdmin workerQueues;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.tiers.coding.base-url", () -> "http://127.0.0.1:" + DEAD_LLM_PORT);
        registry.add("worker.rag.url", () -> "http://127.0.0.1:" + DEAD_RAG_PORT + "/api/v1/context");
        // looks at the LLM endpoints are cached this long: short, so that a change shows within the test
        registry.add("worker.health.probe-cache", () -> "200ms");
    }

    /** The Ollama server has the tiers' models (GET /api/tags); the fake server is shared, so the list is emptied after. */
    @BeforeAll
    static void ollamaHasTheModels() {
        LLM.ollamaModels(MODELS.get("tiny"), MODELS.get("small"), MODELS.get("coding"));
    }

    @AfterAll
    static void emptyOllamaModelList() {
        LLM.ollamaModels();
    }

    @Test
    void probesAnswerAnyoneWithTheStatusOnlyAndTheAdminWithTheParts() {
        for (String path : PROBES) {
            HttpResponse<String> open = get(path);
            assertThat(open.statusCode()).as(path).isEqualTo(200);
            JsonNode body = parse(open.body());
            assertThat(body.path("status").asText()).as(path).isEqualTo("UP");
            assertThat(body.has("components")).as(path + " shows no parts without credentials").isFalse();
        }
        JsonNode readiness = parse(send(request("/actuator/health/readiness").header("Authorization", admin()).GET().build()).body());
        assertThat(readiness.path("components").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("readinessState", "camelReadinessState", "rabbit", "db");
        JsonNode liveness = parse(send(request("/actuator/health/liveness").header("Authorization", admin()).GET().build()).body());
        assertThat(liveness.path("components").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("livenessState", "camelLivenessState");
        assertThat(get("/actuator/health").statusCode()).as("the rest of the actuator needs the admin").isEqualTo(401);
    }

    @Test
    void readinessIsDownWhileAStartedIntakeHasNoConsumerOnTheBroker() throws Exception {
        assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        // someone deletes the tiny tier's queue: the route stays Started, its listener has no consumer any more
        BROKER.admin.deleteQueue("worker-service.tiny");
        try {
            await().atMost(TIMEOUT).until(() -> get("/actuator/health/readiness").statusCode() == 503);
            assertThat(camelContext.getRouteController().getRouteStatus("intake-tiny").isStarted())
                    .as("Camel still counts intake-tiny as started").isTrue();
            assertThat(get("/actuator/health/liveness").statusCode()).as("a lost consumer is no broken process").isEqualTo(200);
            JsonNode body = parse(get("/health").body());
            assertThat(body.path("status").asText()).isEqualTo("DOWN");
            assertThat(strings(body.path("not_ready"))).contains("camelReadinessState", "intake-listeners");
            assertThat(strings(body.path("not_ready"))).as("Camel's own checks do not see it")
                    .doesNotContain("route:intake-tiny", "consumer:intake-tiny");
            HealthCheck.Result listeners = HealthCheckRegistry.get(camelContext).getCheck("intake-listeners")
                    .orElseThrow().call();
            assertThat(listeners.getMessage()).hasValueSatisfying(message ->
                    assertThat(message).contains("intake-tiny").contains("worker-service.tiny"));
        } finally {
            // the worker declares its queues again (as it does on every new broker connection) and the intake restarts
            workerQueues.initialize();
            camelContext.getRouteController().stopRoute("intake-tiny");
            camelContext.getRouteController().startRoute("intake-tiny");
        }
        await().atMost(TIMEOUT).until(() -> get("/actuator/health/readiness").statusCode() == 200);
    }

    @Test
    void readinessIsDownWhileATierIntakeIsStoppedAndUpAgainWhenStarted() throws Exception {
        assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        camelContext.getRouteController().stopRoute("intake-small");
        try {
            HttpResponse<String> readiness = get("/actuator/health/readiness");
            assertThat(readiness.statusCode()).isEqualTo(503);
            // Spring's readiness answers OUT_OF_SERVICE (503) for a worker refusing traffic
            assertThat(parse(readiness.body()).path("status").asText()).isEqualTo("OUT_OF_SERVICE");
            assertThat(get("/readyz").statusCode()).isEqualTo(503);
            assertThat(get("/actuator/health/liveness").statusCode()).as("a stopped intake is no broken process").isEqualTo(200);
            HttpResponse<String> health = get("/health");
            assertThat(health.statusCode()).isEqualTo(503);
            JsonNode body = parse(health.body());
            assertThat(body.path("status").asText()).isEqualTo("DOWN");
            assertThat(body.path("liveness").asText()).isEqualTo("UP");
            assertThat(body.path("readiness").asText()).isEqualTo("OUT_OF_SERVICE");
            assertThat(strings(body.path("not_ready"))).contains("camelReadinessState", "route:intake-small", "consumer:intake-small");
            assertThat(strings(body.path("routes_stopped"))).containsExactly("intake-small");
        } finally {
            camelContext.getRouteController().startRoute("intake-small");
        }
        assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        assertThat(get("/health").statusCode()).isEqualTo(200);
    }

    /** What a tier's circuit breaker does (a readiness check registered with Camel): no configuration needed. */
    @Test
    void aReadinessCheckRegisteredWithCamelMakesTheWorkerUnreadyWhileDown() {
        HealthCheckRegistry registry = HealthCheckRegistry.get(camelContext);
        AtomicBoolean open = new AtomicBoolean(true);
        HealthCheck circuit = new AbstractHealthCheck("worker", "circuit-test") {
            @Override
            protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
                if (open.get()) {
                    builder.down().message("circuit open");
                } else {
                    builder.up();
                }
            }
        };
        registry.register(circuit);
        try {
            assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(503);
            assertThat(get("/actuator/health/liveness").statusCode()).isEqualTo(200);
            HttpResponse<String> health = get("/health");
            assertThat(health.statusCode()).isEqualTo(503);
            assertThat(strings(parse(health.body()).path("not_ready"))).contains("camelReadinessState", "circuit-test");
            open.set(false);
            assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
            assertThat(get("/health").statusCode()).isEqualTo(200);
        } finally {
            registry.unregister(circuit);
        }
    }

    @Test
    void anOperatorStoppingAnotherRouteLeavesTheWorkerReady() throws Exception {
        camelContext.getRouteController().stopRoute("task-list");
        try {
            assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
            HttpResponse<String> health = get("/health");
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(strings(parse(health.body()).path("routes_stopped"))).containsExactly("task-list");
            assertThat(parse(health.body()).path("routes_not_started").asInt()).isEqualTo(1);
        } finally {
            camelContext.getRouteController().startRoute("task-list");
        }
    }

    @Test
    void healthReportsTheWorkersAvailabilityAndNamesTheTiersWithoutAReachableModel() {
        await().atMost(TIMEOUT).until(() -> strings(parse(get("/health").body()).path("tiers_without_model")).equals(List.of("coding")));
        long start = System.nanoTime();
        HttpResponse<String> response = get("/health");
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(response.statusCode()).as("an unreachable LLM endpoint or RAG service does not make the worker DOWN")
                .isEqualTo(200);
        System.out.printf("/health with a dead LLM endpoint and a dead RAG service: %d ms%n", millis);
        JsonNode health = parse(response.body());
        assertThat(health.path("status").asText()).isEqualTo("UP");
        assertThat(health.path("liveness").asText()).isEqualTo("UP");
        assertThat(health.path("readiness").asText()).isEqualTo("UP");
        assertThat(health.path("rabbitmq").asText()).isEqualTo("UP");
        assertThat(health.path("database").asText()).isEqualTo("UP");
        assertThat(health.path("camel").asText()).isEqualTo("Started");
        assertThat(health.path("active_tasks").isInt()).isTrue();
        assertThat(health.path("active_tasks").asInt()).isZero();
        assertThat(health.path("queue_size").asInt()).isZero();
        assertThat(health.path("cpu_percent").asDouble()).isBetween(0.0, 100.0);
        assertThat(health.path("memory_percent").asDouble()).isGreaterThan(0.0).isLessThanOrEqualTo(100.0);

        JsonNode rag = health.path("rag");
        assertThat(rag.path("mode").asText()).isEqualTo("external");
        assertThat(rag.path("status").asText()).isEqualTo("DOWN");
        assertThat(rag.path("detail").asText()).contains("ConnectException");

        assertThat(strings(health.path("tiers_without_model"))).containsExactly("coding");
        Map<String, Integer> bounds = Map.of("tiny", 10, "small", 5, "large", 2, "coding", 2, "frontier", 1);
        bounds.forEach((name, bound) -> {
            JsonNode tier = health.path("tiers").path(name);
            assertThat(tier.path("concurrency").asInt()).as(name).isEqualTo(bound);
            assertThat(tier.path("waiting").asInt()).as(name).isZero();
            assertThat(tier.path("model").asText()).as(name).isEqualTo(MODELS.get(name));
            assertThat(tier.path("llm").path("reachable").asBoolean()).as(name).isEqualTo(!name.equals("coding"));
        });
        assertThat(health.path("tiers").path("small").path("llm").path("model_available").asBoolean()).isTrue();
        assertThat(health.path("tiers").path("large").path("llm").has("model_available")).as("only Ollama lists its models").isFalse();
        JsonNode coding = health.path("tiers").path("coding").path("llm");
        assertThat(coding.path("url").asText()).isEqualTo("http://127.0.0.1:" + DEAD_LLM_PORT);
        assertThat(coding.path("detail").asText()).contains("worker.tiers.coding.base-url").contains("WORKER_TIERS_CODING_BASE_URL");
        assertThat(health.path("domains").fieldNames()).toIterable()
                .containsExactlyInAnyOrder("code-general", "code-vision", "code-embedded", "documentation", "ui-design");
        assertThat(health.path("domains").path("documentation").path("default_tier").asText()).isEqualTo("small");
        assertThat(health.path("domains").path("ui-design").path("kind").asText()).isEqualTo("ui");
    }

    @Test
    void anOllamaServerWithoutTheTiersModelNamesTheTier() {
        LLM.ollamaModels(MODELS.get("tiny"), MODELS.get("coding"));
        try {
            await().atMost(TIMEOUT).until(() -> strings(parse(get("/health").body()).path("tiers_without_model"))
                    .equals(List.of("small", "coding")));
            HttpResponse<String> response = get("/health");
            assertThat(response.statusCode()).isEqualTo(200);
            JsonNode small = parse(response.body()).path("tiers").path("small").path("llm");
            assertThat(small.path("reachable").asBoolean()).isTrue();
            assertThat(small.path("model_available").asBoolean()).isFalse();
            assertThat(small.path("detail").asText()).contains("ollama pull gemma3:12b");
        } finally {
            ollamaHasTheModels();
        }
    }

    /**
     * The report's own cost, as CPU time of the calling thread (what the machine's load does not change), and what
     * 200 HTTP calls, 16 at a time, take end to end on this (shared) machine, printed.
     */
    @Test
    void healthCostsLittleCpuPerCall() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 50; i++) {
            report();
        }
        long cpu = threads.getCurrentThreadCpuTime();
        for (int i = 0; i < 200; i++) {
            report();
        }
        double cpuMillis = (threads.getCurrentThreadCpuTime() - cpu) / 1e6 / 200;

        List<CompletableFuture<Long>> calls = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            calls.add(CompletableFuture.supplyAsync(() -> {
                long start = System.nanoTime();
                assertThat(get("/health").statusCode()).isEqualTo(200);
                return (System.nanoTime() - start) / 1_000_000;
            }, POOL));
        }
        List<Long> millis = calls.stream().map(CompletableFuture::join).sorted().toList();
        System.out.printf("/health: %.2f ms CPU per report; 200 HTTP calls 16 at a time: median %d ms, p95 %d ms, "
                + "max %d ms (load average %.1f)%n", cpuMillis, millis.get(100), millis.get(190), millis.get(199),
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        assertThat(cpuMillis).as("CPU ms per /health report").isLessThan(10.0);
    }

    private void report() {
        try {
            workerHealth.report(new DefaultExchange(camelContext));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void ragOutageCountsNoFailedExchangeWhileTasksCompleteWithoutContext() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("Here it is.\n\n```python\nprint('hi')\n```\n"));
        ManagedRouteMBean ragContext = camelContext.getCamelContextExtension()
                .getContextPlugin(ManagedCamelContext.class).getManagedRoute("rag-context");
        long failedBefore = ragContext.getExchangesFailed();
        long totalBefore = ragContext.getExchangesTotal();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String id = "rag-down-" + i + "-" + UUID.randomUUID().toString().substring(0, 8);
            ids.add(id);
            BROKER.publishTask("small", task(id, "code-general", "Print hi"));
        }
        for (String id : ids) {
            JsonNode output = outputs.awaitJson(id, TIMEOUT);
            assertThat(output.path("status").asText()).isEqualTo("completed");
            assertThat(output.path("rag").asText()).isEqualTo("unavailable");
        }
        await().atMost(TIMEOUT).until(() -> ragContext.getExchangesTotal() >= totalBefore + 3);
        assertThat(ragContext.getExchangesFailed()).as("rag-context failed exchanges").isEqualTo(failedBefore);
        assertThat(failedBefore).isZero();
    }

    static final ExecutorService POOL = Executors.newFixedThreadPool(16);

    private HttpResponse<String> get(String path) {
        return send(request(path).GET().build());
    }

    private static String admin() {
        return "Basic " + Base64.getEncoder().encodeToString((ADMIN_USER + ":" + ADMIN_PASSWORD).getBytes());
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(value -> values.add(value.asText()));
        return values;
    }

    private static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
