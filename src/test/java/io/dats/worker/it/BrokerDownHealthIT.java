package io.dats.worker.it;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import org.springframework.core.Ordered;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.TestContext;
import org.springframework.test.context.TestExecutionListener;
import org.springframework.test.context.TestExecutionListeners;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The broker goes away and comes back: the worker is not ready meanwhile (readiness and {@code /health} 503) but
 * alive (liveness 200: restarting the process would not bring the broker back), and ready again once the broker is.
 * The worker runs against a RabbitMQ node of its own ({@link OwnRabbitNode}): a real broker stopping under a worker
 * that was working, as in an outage or a broker upgrade, rather than a port that was never open.
 */
@DirtiesContext(classMode = DirtiesContext.ClassMode.AFTER_CLASS)
@TestExecutionListeners(listeners = BrokerDownHealthIT.StopNodeAfterWorker.class,
        mergeMode = TestExecutionListeners.MergeMode.MERGE_WITH_DEFAULTS)
class BrokerDownHealthIT extends WorkerITSupport {

    static final OwnRabbitNode NODE = OwnRabbitNode.start("health-broker-down");
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, NODE);
    }

    @Test
    void readinessIsDownAndLivenessUpWhileTheBrokerIsUnreachableAndReadyAgainOnceItIsBack() {
        assertThat(get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        assertThat(get("/actuator/health/liveness").statusCode()).isEqualTo(200);

        NODE.stop();
        List<Long> healthMillis = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            long start = System.nanoTime();
            HttpResponse<String> readiness = get("/actuator/health/readiness");
            long readinessMillis = (System.nanoTime() - start) / 1_000_000;
            assertThat(readiness.statusCode()).isEqualTo(503);
            assertThat(get("/readyz").statusCode()).isEqualTo(503);
            assertThat(get("/actuator/health/liveness").statusCode()).as("a broker outage is no broken process").isEqualTo(200);
            assertThat(get("/livez").statusCode()).isEqualTo(200);
            start = System.nanoTime();
            HttpResponse<String> health = get("/health");
            healthMillis.add((System.nanoTime() - start) / 1_000_000);
            assertThat(health.statusCode()).isEqualTo(503);
            JsonNode body = parse(health.body());
            assertThat(body.path("status").asText()).isEqualTo("DOWN");
            assertThat(body.path("rabbitmq").asText()).isEqualTo("DOWN");
            assertThat(body.path("liveness").asText()).isEqualTo("UP");
            assertThat(body.path("database").asText()).isEqualTo("UP");
            assertThat(body.path("not_ready").toString()).contains("\"rabbit\"");
            assertThat(body.path("camel").asText()).isEqualTo("Started");
            if (i == 0) {
                System.out.printf("broker down: readiness answered in %d ms%n", readinessMillis);
            }
        }
        System.out.printf("broker down: /health answered in %s ms%n", healthMillis);
        // a refused connection is seen at once: /health never waits for spring.rabbitmq.connection-timeout (10 s);
        // the bound leaves room for a loaded build machine
        assertThat(healthMillis).allMatch(millis -> millis < 5_000);

        NODE.start();
        await().atMost(TIMEOUT).pollInterval(Duration.ofMillis(500))
                .until(() -> get("/actuator/health/readiness").statusCode() == 200);
        HttpResponse<String> health = get("/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(parse(health.body()).path("rabbitmq").asText()).isEqualTo("UP");
    }

    private HttpResponse<String> get(String path) {
        return send(request(path).GET().build());
    }

    /** Stops and deletes the node once the worker's context is closed (after DirtiesContext's listener). */
    static final class StopNodeAfterWorker implements TestExecutionListener, Ordered {

        @Override
        public int getOrder() {
            return Ordered.HIGHEST_PRECEDENCE;
        }

        @Override
        public void afterTestClass(TestContext testContext) {
            NODE.close();
        }
    }
}
