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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import io.dats.worker.support.FakeRegistryServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The worker's life as its registry sees it, on the built jar ({@code java -jar}) so that the shutdown is a real
 * SIGTERM: heartbeats {@code starting} (while Camel starts) then {@code ready}, {@code busy} while an infer call streams, {@code ready} again, and on SIGTERM a
 * last heartbeat {@code stopped} sent at once, before the drain of the LLM call still in flight ends.
 */
class WorkerLifecycleIT {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static final FakeLlmServer LLM = new FakeLlmServer().start();
    static final FakeRagServer RAG = new FakeRagServer().start();
    static final FakeRegistryServer REGISTRY = new FakeRegistryServer().start();

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    WorkerJar worker;

    @AfterEach
    void stopWorker() {
        if (worker != null) {
            worker.close();
        }
        TestBroker.forVirtualHostNamed("worker-lifecycle").ifPresent(TestBroker::close);
    }

    @AfterAll
    static void stopServers() {
        LLM.close();
        RAG.close();
        REGISTRY.close();
    }

    @Test
    void heartbeatsGoReadyBusyReadyAndStoppedAtOnceOnSigterm() throws Exception {
        TestBroker broker = TestBroker.named("worker-lifecycle");
        start(broker);
        // started as the README's run command starts it: bin/worker, with the class-data archive it made
        assertThat(worker.mapsClassDataArchive()).as("the worker JVM maps target/cds/worker.jsa").isTrue();
        await().atMost(Duration.ofSeconds(180)).until(() -> statuses().contains("ready"));
        assertThat(info().path("status").asText()).isEqualTo("ready");
        assertThat(info().path("id").asText()).isEqualTo("lifecycle-it");

        // busy while a streamed infer call is in flight, ready again after it
        LLM.respondWith(call -> Reply.text("slow answer in several pieces").delayed(Duration.ofSeconds(3)));
        CompletableFuture<HttpResponse<String>> call = http.sendAsync(HttpRequest.newBuilder(uri("/v1/infer"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"hi\",\"stream\":true}")).build(),
                HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(30)).until(() -> statuses().contains("busy"));
        assertThat(call.get(30, TimeUnit.SECONDS).body()).endsWith("data: [DONE]\n\n");
        int afterCall = REGISTRY.heartbeats().size();
        await().atMost(Duration.ofSeconds(30)).until(() -> statuses().subList(afterCall, statuses().size()).contains("ready"));

        // SIGTERM with a call in flight: stopped is said at once, not after the drain
        LLM.respondWith(call2 -> Reply.text("late answer").delayed(Duration.ofSeconds(8)));
        CompletableFuture<HttpResponse<String>> inFlight = http.sendAsync(HttpRequest.newBuilder(uri("/v1/infer"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(30)).until(() -> LLM.inFlight("gemma3:12b") == 1);
        long sigterm = System.nanoTime();
        worker.signalTerminate();
        await().atMost(Duration.ofSeconds(7)).until(() -> statuses().contains("stopped"));
        Duration toStopped = Duration.ofNanos(System.nanoTime() - sigterm);
        worker.awaitExit(Duration.ofSeconds(60));
        System.out.printf("Heartbeat 'stopped' %d ms after SIGTERM (a call of 8 s in flight); exit after %d ms%n",
                toStopped.toMillis(), Duration.ofNanos(System.nanoTime() - sigterm).toMillis());

        List<String> statuses = statuses();
        assertThat(statuses.get(statuses.size() - 1)).isEqualTo("stopped");
        assertThat(statuses.subList(0, statuses.size() - 1)).doesNotContain("stopped");
        // beats begin when the web server listens: starting (while Camel starts) comes only before ready
        assertThat(statuses.lastIndexOf("starting")).isLessThan(statuses.indexOf("ready"));
        System.out.println("Heartbeat statuses: " + String.join(" ", statuses));
        // well before the 8 s call in flight ends
        assertThat(toStopped).isLessThan(Duration.ofSeconds(7));
        assertThat(inFlight.get(30, TimeUnit.SECONDS).statusCode()).as("the call in flight finished").isEqualTo(200);
    }

    private List<String> statuses() {
        List<String> statuses = new ArrayList<>();
        REGISTRY.heartbeats().forEach(beat -> statuses.add(beat.path("worker").path("status").asText()));
        return statuses;
    }

    private JsonNode info() throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(uri("/info")).timeout(Duration.ofSeconds(5))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        return MAPPER.readTree(response.body());
    }

    private void start(TestBroker broker) {
        worker = WorkerJar.start("worker-lifecycle", Map.ofEntries(
                Map.entry("spring.rabbitmq.virtual-host", broker.vhost),
                Map.entry("worker.id", "lifecycle-it"),
                Map.entry("worker.registry.url", REGISTRY.url()),
                Map.entry("worker.registry.interval", "300ms"),
                Map.entry("worker.registry.timeout", "2s"),
                Map.entry("worker.rag.url", RAG.url()),
                Map.entry("worker.rag.timeout", "1s"),
                Map.entry("worker.shutdown.drain-timeout", "30s"),
                Map.entry("worker.tiers.small.base-url", LLM.ollamaBaseUrl()),
                Map.entry("worker.tiers.small.timeout", "30s")));
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + worker.port() + path);
    }
}
