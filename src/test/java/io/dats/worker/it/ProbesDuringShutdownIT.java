package io.dats.worker.it;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The probes while the worker drains after SIGTERM (the built jar, {@code java -jar}, with an LLM call in flight):
 * readiness refuses at once (no new REST traffic is routed to a stopping worker), and what liveness answers is recorded.
 */
class ProbesDuringShutdownIT {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static final FakeLlmServer LLM = new FakeLlmServer().start();
    static final FakeRagServer RAG = new FakeRagServer().start();
    static final String SMALL_MODEL = "gemma3:12b";

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    Process worker;
    int port;

    @AfterEach
    void stopWorker() {
        if (worker != null && worker.isAlive()) {
            worker.destroyForcibly();
        }
    }

    @AfterAll
    static void stopServers() {
        LLM.close();
        RAG.close();
    }

    @Test
    void readinessRefusesWhileTheWorkerDrains() throws Exception {
        TestBroker broker = TestBroker.named("probes-shutdown");
        start(broker);
        EventInbox outputs = EventInbox.events(broker, "task.output.created");
        assertThat(get("/readyz").statusCode()).isEqualTo(200);
        assertThat(get("/livez").statusCode()).isEqualTo(200);
        LLM.respondWith(call -> Reply.text("```python\nprint('drained')\n```").delayed(Duration.ofSeconds(6)));
        broker.publishTask("small", MAPPER.writeValueAsString(Map.of("task_id", "probe-drain", "domain", "code-general",
                "description", "Write it")));
        await().atMost(Duration.ofSeconds(30)).until(() -> LLM.inFlight(SMALL_MODEL) == 1);

        worker.destroy(); // SIGTERM
        Set<String> readiness = new LinkedHashSet<>();
        Set<String> liveness = new LinkedHashSet<>();
        while (worker.isAlive() && LLM.inFlight(SMALL_MODEL) == 1) {
            readiness.add(status("/readyz"));
            liveness.add(status("/livez"));
            Thread.sleep(100);
        }
        assertThat(worker.waitFor(60, TimeUnit.SECONDS)).isTrue();
        System.out.printf("probes while draining: readiness %s, liveness %s%n", readiness, liveness);
        // the first probe may still see the worker before the close began; from then on readiness refuses
        assertThat(readiness).contains("503");
        assertThat(readiness).doesNotContain("none");
        assertThat(outputs.received()).containsKey("probe-drain");
    }

    private String status(String path) {
        try {
            return String.valueOf(get(path).statusCode());
        } catch (Exception e) {
            return "none";
        }
    }

    private void start(TestBroker broker) throws IOException {
        port = freePort();
        Path log = Path.of("target", "probes-shutdown-" + broker.vhost + ".log");
        Files.createDirectories(log.getParent());
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-jar", Path.of("target", "llm-task-worker.jar").toString(),
                "--server.port=" + port,
                "--spring.rabbitmq.virtual-host=" + broker.vhost,
                "--spring.security.user.password=probes-it",
                "--spring.datasource.url=jdbc:h2:mem:probes-shutdown",
                "--worker.rag.url=" + RAG.url(),
                "--worker.rag.timeout=1s",
                "--worker.rag.embedded.index-on-start=false",
                "--worker.shutdown.drain-timeout=30s",
                "--worker.tiers.small.base-url=" + LLM.ollamaBaseUrl(),
                "--worker.tiers.small.concurrency=1",
                "--worker.tiers.small.timeout=30s",
                "--worker.tiers.small.max-attempts=1"));
        worker = new ProcessBuilder(command).directory(new File(".")).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).until(() -> {
            assertThat(worker.isAlive()).as("the worker process runs (see " + log + ")").isTrue();
            try {
                return get("/readyz").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
