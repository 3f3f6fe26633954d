package io.dats.worker.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.WorkerApplication;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeRagServer;
import org.junit.jupiter.api.BeforeEach;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * The whole worker against the machine's RabbitMQ (a fresh virtual host) with the LLM providers and the RAG service
 * as loopback servers speaking their wire formats. Tiers keep their default providers: tiny, small and coding on
 * Ollama, large on an OpenAI-compatible server, frontier on Anthropic.
 */
@SpringBootTest(classes = WorkerApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
abstract class WorkerITSupport {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static final String ADMIN_USER = "operator";
    static final String ADMIN_PASSWORD = "it-" + java.util.UUID.randomUUID();
    static final FakeLlmServer LLM = Servers.LLM;
    static final FakeRagServer RAG = Servers.RAG;
    static final Map<String, String> MODELS = Map.of(
            "tiny", "gemma3:4b", "small", "gemma3:12b", "large", "openai/gpt-oss-20b",
            "coding", "qwen3-coder:30b-a3b-q8_0-64k", "frontier", "claude-sonnet-4-20250514");

    /** Started once per JVM and shared by every context. */
    static final class Servers {
        static final FakeLlmServer LLM = new FakeLlmServer().start();
        static final FakeRagServer RAG = new FakeRagServer().start();
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @LocalServerPort
    int port;

    /** As {@link #workerProperties(DynamicPropertyRegistry)}, with the broker being a test's own node (its "/"). */
    static void workerProperties(DynamicPropertyRegistry registry, OwnRabbitNode node) {
        registry.add("spring.rabbitmq.host", () -> "127.0.0.1");
        registry.add("spring.rabbitmq.port", node::port);
        registry.add("spring.rabbitmq.virtual-host", () -> "/");
        registry.add("spring.rabbitmq.username", () -> "guest");
        registry.add("spring.rabbitmq.password", () -> "guest");
        workerProperties(registry);
    }

    static void workerProperties(DynamicPropertyRegistry registry, TestBroker broker) {
        registry.add("spring.rabbitmq.virtual-host", () -> broker.vhost);
        workerProperties(registry);
    }

    /** Everything but the broker connection: the fake LLM and RAG servers, short retries, the admin user. */
    static void workerProperties(DynamicPropertyRegistry registry) {
        // a task store of its own per context (task ids repeat across test classes)
        String database = "jdbc:h2:mem:it-" + java.util.UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
        registry.add("spring.datasource.url", () -> database);
        registry.add("spring.security.user.name", () -> ADMIN_USER);
        registry.add("spring.security.user.password", () -> ADMIN_PASSWORD);
        registry.add("worker.rag.url", RAG::url);
        registry.add("worker.rag.timeout", () -> "1s");
        registry.add("worker.retry.initial-delay", () -> "100ms");
        registry.add("worker.retry.max-delay", () -> "500ms");
        registry.add("worker.tiers.tiny.base-url", LLM::ollamaBaseUrl);
        registry.add("worker.tiers.small.base-url", LLM::ollamaBaseUrl);
        registry.add("worker.tiers.coding.base-url", LLM::ollamaBaseUrl);
        registry.add("worker.tiers.large.base-url", LLM::openAiBaseUrl);
        registry.add("worker.tiers.large.api-key", () -> "test-openai-key");
        registry.add("worker.tiers.frontier.base-url", LLM::anthropicBaseUrl);
        registry.add("worker.tiers.frontier.api-key", () -> "test-anthropic-key");
        // these tests fail LLM calls on purpose, task by task; the tiers' circuits are tested in CircuitBreakerIT
        for (String tier : MODELS.keySet()) {
            registry.add("worker.tiers." + tier + ".circuit-enabled", () -> "false");
        }
    }

    @BeforeEach
    void resetServers() {
        LLM.reset();
        RAG.reset();
    }

    static String task(String taskId, String domain, String description) {
        return json(Map.of("task_id", taskId, "domain", domain, "description", description));
    }

    static String json(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (Exception e) {
            throw new IllegalArgumentException(e);
        }
    }

    static JsonNode parse(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofMinutes(3));
    }

    HttpResponse<String> execute(String body) {
        return executeAsync(body).join();
    }

    CompletableFuture<HttpResponse<String>> executeAsync(String body) {
        return http.sendAsync(request("/api/v1/execute")
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> send(HttpRequest request) {
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join();
    }
}
