package io.dats.worker.identity;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.infer.InferProperties;
import io.dats.worker.llm.TierSlots;
import org.junit.jupiter.api.Test;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.GenericApplicationContext;
import org.springframework.mock.env.MockEnvironment;

import static org.assertj.core.api.Assertions.assertThat;

class WorkerLifecycleTest {

    private final WorkerProperties properties = TestWorkerProperties.defaults();
    private final TierSlots slots = new TierSlots(properties);
    private final GenericApplicationContext context = new GenericApplicationContext();
    private final WorkerLifecycle lifecycle = new WorkerLifecycle(context, slots);

    @Test
    void goesFromStartingToReadyBusyReadyAndStopped() throws Exception {
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.STARTING);
        lifecycle.onReady(new ApplicationReadyEvent(new SpringApplication(), new String[0], context, null));
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.READY);

        TierSlots.Slot small = slots.acquire("small");
        TierSlots.Slot large = slots.acquire("large");
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.BUSY);
        small.close();
        assertThat(lifecycle.status()).as("one call still in flight").isEqualTo(WorkerStatus.BUSY);
        large.close();
        large.close();
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.READY);
        assertThat(slots.inFlight()).isZero();

        lifecycle.onClose(new ContextClosedEvent(context));
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.STOPPED);
        slots.acquire("small");
        assertThat(lifecycle.status()).as("stopped wins over busy").isEqualTo(WorkerStatus.STOPPED);
    }

    @Test
    void ignoresTheEventsOfOtherContexts() {
        GenericApplicationContext child = new GenericApplicationContext();
        lifecycle.onReady(new ApplicationReadyEvent(new SpringApplication(), new String[0], context, null));
        lifecycle.onClose(new ContextClosedEvent(child));
        assertThat(lifecycle.status()).isEqualTo(WorkerStatus.READY);
    }

    @Test
    void infoHasTheSeedFieldsWithTheDefaultTiersModel() throws Exception {
        MockEnvironment environment = new MockEnvironment().withProperty("local.server.port", "9301");
        WorkerIdentity identity = new WorkerIdentity("worker-abc123", new IdentityProperties("GPU-0", "llm-task-worker", ""),
                properties, new InferProperties("small"), lifecycle, environment, new ObjectMapper());
        JsonNode info = new ObjectMapper().readTree(identity.report(null));
        assertThat(info.path("id").asText()).isEqualTo("worker-abc123");
        assertThat(info.path("model_id").asText()).isEqualTo("gemma3:12b");
        assertThat(info.path("device").asText()).isEqualTo("GPU-0");
        assertThat(info.path("port").asInt()).isEqualTo(9301);
        assertThat(info.path("status").asText()).isEqualTo("starting");
        assertThat(info.path("implementation").asText()).isEqualTo("llm-task-worker");
        assertThat(info.path("version").asText()).isEqualTo("dev");
        assertThat(info.path("models").path("frontier").asText()).isEqualTo("claude-sonnet-4-20250514");
    }

    @Test
    void idFallsBackToTheHostName() {
        WorkerIdentity identity = new WorkerIdentity("", new IdentityProperties("cpu", "llm-task-worker", "1.2.3"),
                properties, new InferProperties("small"), lifecycle, new MockEnvironment(), new ObjectMapper());
        assertThat(identity.info().id()).isEqualTo(IdentityProperties.hostName()).isNotBlank();
        assertThat(identity.info().version()).isEqualTo("1.2.3");
        assertThat(identity.info().port()).isEqualTo(8080);
    }
}
