package io.dats.worker.identity;

import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.infer.InferProperties;
import io.dats.worker.llm.TierSlots;
import io.dats.worker.support.FakeRegistryServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.mock.env.MockEnvironment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Heartbeats against a loopback registry: the sequence, the last {@code stopped} beat, and a registry that is down. */
class HeartbeatSenderTest {

    private final WorkerProperties properties = TestWorkerProperties.defaults();
    private final GenericApplicationContext context = new GenericApplicationContext();
    private final WorkerLifecycle lifecycle = new WorkerLifecycle(context, new TierSlots(properties));
    private final WorkerIdentity identity = new WorkerIdentity("worker-hb", new IdentityProperties("cpu", "llm-task-worker", ""),
            properties, new InferProperties("small"), lifecycle, new MockEnvironment(), new ObjectMapper());
    private final FakeRegistryServer registry = new FakeRegistryServer().start();
    private HeartbeatSender sender;

    @AfterEach
    void stop() {
        if (sender != null) {
            sender.stop();
        }
        registry.close();
    }

    private HeartbeatSender sender(String url, Duration interval, Duration timeout) {
        sender = new HeartbeatSender(new RegistryProperties(URI.create(url), interval, timeout), identity,
                new ObjectMapper(), context);
        return sender;
    }

    private void ready() {
        lifecycle.onReady(new ApplicationReadyEvent(new SpringApplication(), new String[0], context, null));
    }

    @Test
    void beatsEveryIntervalOnceReadyAndSaysStoppedLast() {
        HeartbeatSender sender = sender(registry.url(), Duration.ofMillis(200), Duration.ofSeconds(1));
        ready();
        sender.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> registry.heartbeats().size() >= 3);

        JsonNode first = registry.heartbeats().get(0);
        assertThat(first.path("worker").path("id").asText()).isEqualTo("worker-hb");
        assertThat(first.path("worker").path("status").asText()).isEqualTo("ready");
        assertThat(first.path("worker").path("model_id").asText()).isEqualTo("gemma3:12b");
        assertThat(Instant.parse(first.path("timestamp").asText())).isBefore(Instant.now().plusSeconds(1));

        lifecycle.onClose(new ContextClosedEvent(context));
        sender.onClose(new ContextClosedEvent(context));
        int beats = registry.heartbeats().size();
        JsonNode last = registry.heartbeats().get(beats - 1);
        assertThat(last.path("worker").path("status").asText()).isEqualTo("stopped");
        assertThat(registry.heartbeats().subList(0, beats - 1))
                .allSatisfy(beat -> assertThat(beat.path("worker").path("status").asText()).isEqualTo("ready"));
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(2))
                .until(() -> registry.heartbeats().size() == beats);
    }

    @Test
    void sendsNothingWithoutARegistry() {
        HeartbeatSender sender = new HeartbeatSender(new RegistryProperties(null, Duration.ofMillis(100), Duration.ofSeconds(1)),
                identity, new ObjectMapper(), context);
        sender.onClose(new ContextClosedEvent(context));
        assertThat(registry.heartbeats()).isEmpty();
    }

    @Test
    void aRegistryThatIsDownOrSlowCostsAtMostTheTimeoutAndNeverThrows() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        HeartbeatSender down = sender("http://127.0.0.1:" + closedPort, Duration.ofSeconds(30), Duration.ofMillis(500));
        down.start();
        assertThat(down.beat(identity.info())).isFalse();
        assertThat(down.registryDown()).isTrue();
        down.stop();

        registry.mode(FakeRegistryServer.Mode.HANG);
        HeartbeatSender slow = sender(registry.url(), Duration.ofSeconds(30), Duration.ofMillis(500));
        slow.start();
        long start = System.nanoTime();
        assertThat(slow.beat(identity.info())).isFalse();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));

        registry.mode(FakeRegistryServer.Mode.ACCEPT);
        assertThat(slow.beat(identity.info())).isTrue();
        assertThat(slow.registryDown()).as("back up").isFalse();
    }
}
