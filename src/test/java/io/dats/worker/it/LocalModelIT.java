package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.TinyGguf;
import org.junit.jupiter.api.Test;

import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole worker with one tier ({@code small}) on the in-JVM provider: a tiny random-weight GGUF written by
 * {@link TinyGguf}, run by llama.cpp inside the worker. A queued task goes through the unchanged pipeline (RAG,
 * template, chat model, output schema) to {@code task.output.created}; {@code /v1/infer} answers from it. Another tier
 * points at a port where nothing listens: its task fails with the setting that points there.
 */
class LocalModelIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("local-model");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(90);
    static final Path GGUF = gguf();
    static final int CLOSED_PORT = closedPort();

    static Path gguf() {
        try {
            return TinyGguf.standard().write(Files.createTempDirectory("local-model-it").resolve("tiny-random.gguf"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int closedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.tiers.small.provider", () -> "local");
        registry.add("worker.tiers.small.model-path", GGUF::toString);
        registry.add("worker.tiers.small.context-window", () -> "4096");
        registry.add("worker.tiers.small.max-output-tokens", () -> "48");
        registry.add("worker.tiers.small.temperature", () -> "0");
        registry.add("worker.tiers.small.concurrency", () -> "2");
        registry.add("worker.tiers.tiny.base-url", () -> "http://127.0.0.1:" + CLOSED_PORT);
        registry.add("worker.tiers.tiny.max-attempts", () -> "1");
    }

    @Test
    void aQueuedTaskIsAnsweredByTheLocalModel() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        BROKER.publishTask("small", json(Map.of("task_id", "local-1", "domain", "documentation",
                "description", "Describe the worker's local model")));

        JsonNode event = outputs.awaitJson("local-1", EVENT_TIMEOUT);

        assertThat(event.path("status").asText()).isEqualTo("completed");
        assertThat(event.path("tier").asText()).isEqualTo("small");
        assertThat(event.path("model").asText()).isEqualTo("tiny-random.gguf");
        assertThat(event.path("rag").asText()).isEqualTo("used");
        // the prompt's tokens plus exactly max-output-tokens: the generated model never ends a turn by itself
        assertThat(event.path("tokens_used").asInt()).isGreaterThan(48 + 20);
        JsonNode artifact = event.path("output").path("artifacts").get(0);
        assertThat(artifact.path("type").asText()).isEqualTo("documentation");
        assertThat(artifact.path("content").asText()).isNotBlank();
        assertThat(LLM.calls()).as("calls to the loopback LLM servers").isEmpty();
    }

    @Test
    void inferAnswersFromTheLocalModelWithTheRequestsLimit() {
        HttpResponse<String> response = send(request("/v1/infer").header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"prompt\":\"Hello\",\"max_tokens\":12,\"temperature\":0,\"tier\":\"small\"}")).build());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode answer = parse(response.body());
        assertThat(answer.path("tokens_generated").asInt()).isEqualTo(12);
        assertThat(answer.path("text").asText()).isNotBlank();
    }

    @Test
    void inferStreamsTheLocalModelsTokens() {
        HttpResponse<String> response = send(request("/v1/infer").header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                        "{\"prompt\":\"Hello\",\"max_tokens\":12,\"temperature\":0,\"tier\":\"small\",\"stream\":true}"))
                .build());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type ->
                assertThat(type).startsWith("text/event-stream"));
        java.util.List<String> data = response.body().lines().filter(line -> line.startsWith("data: "))
                .map(line -> line.substring("data: ".length())).toList();
        assertThat(data.stream().filter(line -> line.startsWith("{\"token\"")).count()).isEqualTo(12);
        assertThat(data.get(data.size() - 1)).isEqualTo("[DONE]");
    }

    @Test
    void aTaskOfAnUnreachableModelServerNamesTheSettingThatPointsThere() {
        EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        BROKER.publishTask("tiny", json(Map.of("task_id", "local-unreachable", "domain", "code-general",
                "description", "Anything")));

        JsonNode event = failures.awaitJson("local-unreachable", EVENT_TIMEOUT);

        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("reason").asText()).contains("at http://127.0.0.1:" + CLOSED_PORT)
                .contains("cannot connect")
                .contains("worker.tiers.tiny.base-url (environment variable WORKER_TIERS_TINY_BASE_URL)");
    }

    @Test
    void healthCountsTheLocalTierAsHavingItsModelAndNamesTheUnreachableOne() {
        JsonNode health = parse(send(request("/health").GET().build()).body());

        JsonNode small = health.path("tiers").path("small").path("llm");
        assertThat(small.path("reachable").asBoolean()).as(small.toString()).isTrue();
        assertThat(small.path("model_available").asBoolean()).as(small.toString()).isTrue();
        java.util.List<String> withoutModel = new java.util.ArrayList<>();
        health.path("tiers_without_model").forEach(tier -> withoutModel.add(tier.asText()));
        assertThat(withoutModel).contains("tiny").doesNotContain("small");
        assertThat(health.path("tiers").path("tiny").path("llm").path("detail").asText())
                .contains("worker.tiers.tiny.base-url (environment variable WORKER_TIERS_TINY_BASE_URL)");
    }
}
