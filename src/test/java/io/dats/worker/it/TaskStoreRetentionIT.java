package io.dats.worker.it;

import java.time.Duration;

import org.apache.camel.CamelContext;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The task store's retention through the whole worker: route task-store-retention (routes/task-store.camel.yaml)
 * deletes a task that ended longer ago than {@code worker.store.retention} (5 s here, long enough for the calls that
 * must still find it on a loaded machine; checked every 300 ms): its state is gone ({@code GET} 404) and its id runs
 * again.
 */
class TaskStoreRetentionIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("task-store-retention");

    @Autowired
    CamelContext camelContext;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.store.retention", () -> "5s");
        registry.add("worker.store.purge-interval", () -> "300ms");
    }

    @Test
    void aTaskThatEndedLongerAgoThanTheRetentionIsDeletedAndItsIdRunsAgain() {
        assertThat(camelContext.getRoute("task-store-retention")).as("the upkeep route").isNotNull();
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created"); // a bound consumer for the outcomes
        String body = task("retention-1", "code-general", "Create fibonacci function");
        assertThat(execute(body).statusCode()).isEqualTo(200);
        assertThat(send(request("/api/v1/tasks/retention-1").GET().build()).statusCode()).isEqualTo(200);
        assertThat(execute(body).statusCode()).as("within the retention: answered from the store").isEqualTo(200);
        assertThat(LLM.calls()).hasSize(1);

        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> send(request("/api/v1/tasks/retention-1").GET().build()).statusCode() == 404);
        assertThat(execute(body).statusCode()).isEqualTo(200);
        assertThat(LLM.calls()).as("deleted: the same id runs again").hasSize(2);
        await().atMost(Duration.ofSeconds(30)).until(() -> outputs.of("retention-1").size() == 3);
    }
}
