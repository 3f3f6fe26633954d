package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.rag.embedded.EmbeddedRagService;
import io.dats.worker.rag.embedded.Fixtures;
import io.dats.worker.support.FakeLlmServer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The worker with no outside RAG service: {@code worker.rag.url} points at its own embedded RAG endpoint, which
 * indexes a fixture corpus in the background at start. A task's prompt, as the LLM server sees it, carries the chunk
 * retrieved for the task's description, of the task's project.
 */
class EmbeddedRagIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("embedded-rag");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(60);
    static final Path CORPUS = corpus();

    @Autowired
    EmbeddedRagService embeddedRag;

    static Path corpus() {
        try {
            return Fixtures.corpus(Files.createTempDirectory("embedded-rag-it"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        // no outside RAG server: the worker's own endpoint, on the port the test server got
        registry.add("worker.rag.url", () -> "http://127.0.0.1:${local.server.port}/rag/api/v1/context");
        registry.add("worker.rag.timeout", () -> "10s");
        registry.add("worker.rag.embedded.docs", CORPUS::toString);
        registry.add("worker.rag.embedded.data-dir", () -> CORPUS.resolveSibling(CORPUS.getFileName() + "-data").toString());
    }

    @BeforeEach
    void startupIndexDone() {
        // the worker started without waiting for the index; the tests need it complete
        await().atMost(Duration.ofSeconds(60)).until(() -> !embeddedRag.startupIndex().equals("running")
                && !embeddedRag.startupIndex().equals("pending"));
        assertThat(embeddedRag.startupIndex()).isEqualTo("done");
    }

    @Test
    void aTasksPromptCarriesTheChunkRetrievedByTheEmbeddedService() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        BROKER.publishTask("small", json(Map.of("task_id", "embedded-rag-1", "domain", "code-general",
                "description", "Add a setting for how long the worker waits before retrying a failed model call")));

        JsonNode event = outputs.awaitJson("embedded-rag-1", EVENT_TIMEOUT);
        assertThat(event.path("status").asText()).isEqualTo("completed");
        assertThat(event.path("rag").asText()).isEqualTo("used");
        FakeLlmServer.LlmCall call = LLM.calls().stream()
                .filter(c -> c.prompt().contains("Add a setting for how long")).findFirst().orElseThrow();
        assertThat(call.prompt()).contains("exponential backoff: the first retry waits one second")
                .containsPattern("guide\\.md#\\d");
        assertThat(RAG.requestCount()).as("requests to the outside (fake) RAG server").isZero();
    }

    @Test
    void aTasksProjectSelectsItsDocuments() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        BROKER.publishTask("small", json(Map.of("task_id", "embedded-rag-beta", "domain", "code-embedded",
                "project_id", "beta", "description", "Flush the telemetry ring buffer")));

        assertThat(outputs.awaitJson("embedded-rag-beta", EVENT_TIMEOUT).path("rag").asText()).isEqualTo("used");
        FakeLlmServer.LlmCall call = LLM.calls().stream()
                .filter(c -> c.prompt().contains("Flush the telemetry ring buffer")).findFirst().orElseThrow();
        assertThat(call.prompt()).contains(Fixtures.BETA.lines().skip(2).findFirst().orElseThrow())
                .doesNotContain("800 Hz");
    }

    @Test
    void theContextEndpointIsOpenAndIngestNeedsTheAdmin() throws IOException {
        HttpResponse<String> context = post("/rag/api/v1/context", null, "application/json",
                json(Map.of("task_id", "t", "query", "iterative fibonacci", "domain", "code-general", "top_k", 2)));
        assertThat(context.statusCode()).isEqualTo(200);
        JsonNode answer = parse(context.body());
        assertThat(answer.path("sources")).hasSize(2);
        assertThat(answer.path("sources").get(0).asText()).endsWith("src/Fibonacci.java#0");
        assertThat(answer.path("context").asText()).contains("Math.addExact");
        assertThat(context.headers().map().keySet()).noneMatch(name -> name.toLowerCase().startsWith("camel"));

        HttpResponse<String> invalid = post("/rag/api/v1/context", null, "application/json", "{not json");
        assertThat(invalid.statusCode()).isEqualTo(400);
        assertThat(parse(invalid.body()).path("error").asText()).isEqualTo("invalid_request");

        Path more = Files.createTempDirectory("embedded-rag-more");
        Fixtures.write(more.resolve("glossary.md"), "# Glossary\n\nA quokka is the worker's name for a dead-lettered task.\n");
        String ingest = json(Map.of("folder", more.toString(), "project_id", "zoo"));
        assertThat(post("/rag/api/v1/ingest", null, "application/json", ingest).statusCode()).isEqualTo(401);
        assertThat(post("/rag/api/v1/ingest", "wrong", "application/json", ingest).statusCode()).isEqualTo(401);
        // a form post (what a cross-site page can send) is refused even with the admin's credentials
        assertThat(post("/rag/api/v1/ingest", ADMIN_PASSWORD, "text/plain", ingest).statusCode()).isEqualTo(403);
        HttpResponse<String> ingested = post("/rag/api/v1/ingest", ADMIN_PASSWORD, "application/json", ingest);
        assertThat(ingested.statusCode()).isEqualTo(200);
        assertThat(parse(ingested.body()).path("indexed").asInt()).isEqualTo(1);

        JsonNode zoo = parse(post("/rag/api/v1/context", null, "application/json",
                json(Map.of("query", "what is a quokka", "project_id", "zoo", "top_k", 1))).body());
        assertThat(zoo.path("sources").get(0).asText()).endsWith("glossary.md#0");
        JsonNode other = parse(post("/rag/api/v1/context", null, "application/json",
                json(Map.of("query", "what is a quokka", "project_id", "alpha", "top_k", 20))).body());
        assertThat(other.path("context").asText()).doesNotContain("quokka");

        assertThat(post("/rag/api/v1/ingest", ADMIN_PASSWORD, "application/json",
                json(Map.of("folder", more.resolve("missing").toString()))).statusCode()).isEqualTo(400);
        HttpResponse<String> status = send(request("/rag/api/v1/status").header("Authorization", basic(ADMIN_PASSWORD))
                .GET().build());
        assertThat(status.statusCode()).isEqualTo(200);
        assertThat(parse(status.body()).path("files").asInt()).isEqualTo(5);
    }

    HttpResponse<String> post(String path, String password, String contentType, String body) {
        HttpRequest.Builder builder = request(path).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (password != null) {
            builder.header("Authorization", basic(password));
        }
        return send(builder.build());
    }

    static String basic(String password) {
        return "Basic " + Base64.getEncoder().encodeToString((ADMIN_USER + ":" + password).getBytes(StandardCharsets.UTF_8));
    }
}
