package io.dats.worker.it;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import org.junit.jupiter.api.AfterAll;
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

    @AfterAll
    static void stopServers() {
        LLM.close();
        RAG.close();
        TestBroker.forVirtualHostNamed("probes-shutdown").ifPresent(TestBroker::close);
    }

    @Test
    void readinessRefusesWhileTheWorkerDrains() throws Exception {
        TestBroker broker = TestBroker.named("probes-shutdown");
        try (WorkerJar worker = WorkerJar.start("probes-shutdown", Map.of(
                "spring.rabbitmq.virtual-host", broker.vhost,
                "worker.rag.url", RAG.url(),
                "worker.rag.timeout", "1s",
                "worker.shutdown.drain-timeout", "30s",
                "worker.tiers.small.base-url", LLM.ollamaBaseUrl(),
                "worker.tiers.small.concurrency", "1",
                "worker.tiers.small.timeout", "30s",
                "worker.tiers.small.max-attempts", "1"))) {
            EventInbox outputs = EventInbox.events(broker, "task.output.created");
            assertThat(worker.get("/readyz").statusCode()).isEqualTo(200);
            assertThat(worker.get("/livez").statusCode()).isEqualTo(200);
            LLM.respondWith(call -> Reply.text("```python\nprint('drained')\n```").delayed(Duration.ofSeconds(6)));
            broker.publishTask("small", MAPPER.writeValueAsString(Map.of("task_id", "probe-drain",
                    "domain", "code-general", "description", "Write it")));
            await().atMost(Duration.ofSeconds(30)).until(() -> LLM.inFlight(SMALL_MODEL) == 1);

            worker.signalTerminate();
            Set<String> readiness = new LinkedHashSet<>();
            Set<String> liveness = new LinkedHashSet<>();
            // probe every 100 ms while the worker drains its LLM call
            await().atMost(Duration.ofSeconds(60)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        if (!worker.alive() || LLM.inFlight(SMALL_MODEL) != 1) {
                            return true;
                        }
                        readiness.add(status(worker, "/readyz"));
                        liveness.add(status(worker, "/livez"));
                        return false;
                    });
            worker.awaitExit(Duration.ofSeconds(60));
            System.out.printf("probes while draining: readiness %s, liveness %s%n", readiness, liveness);
            // the first probe may still see the worker before the close began; from then on readiness refuses
            assertThat(readiness).contains("503");
            assertThat(readiness).doesNotContain("none");
            assertThat(outputs.received()).containsKey("probe-drain");
        }
    }

    private static String status(WorkerJar worker, String path) {
        try {
            return String.valueOf(worker.get(path).statusCode());
        } catch (Exception e) {
            return "none";
        }
    }
}
