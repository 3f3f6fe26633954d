package io.dats.worker.it;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.WorkerApplication;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Task state across a worker restart, on the embedded default (an H2 file database) and on the machine's PostgreSQL
 * (bin/ensure-postgresql: role worker, database worker_test, a fresh schema): a task queued with
 * {@code POST /api/v1/tasks} and completed by one worker application is answered by {@code GET /api/v1/tasks/{id}}
 * after a new worker application started on the same database, and that worker does not run it again, neither for
 * the same {@code POST} (its stored state is the answer) nor for a copy from the queue (its output is published
 * again).
 */
class TaskStoreRestartIT {

    static final TestBroker BROKER = TestBroker.named("task-store-restart");
    static final String PG_SCHEMA = "restart_it_" + UUID.randomUUID().toString().substring(0, 8);
    static final String PG_URL = "jdbc:postgresql://" + env("WORKER_TEST_PG_HOST", "127.0.0.1") + ":"
            + env("WORKER_TEST_PG_PORT", "5432") + "/" + env("WORKER_TEST_PG_DATABASE", "worker_test");
    static final String PG_USER = env("WORKER_TEST_PG_USER", "worker");
    static final String PG_PASSWORD = env("WORKER_TEST_PG_PASSWORD", "worker");
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static String env(String name, String fallback) {
        return System.getenv().getOrDefault(name, fallback);
    }

    static Stream<Arguments> databases() throws Exception {
        Path h2 = Files.createTempDirectory("restart-it");
        Map<String, Object> file = Map.of("spring.datasource.url", "jdbc:h2:file:" + h2.resolve("tasks").toAbsolutePath(),
                "spring.datasource.username", "sa", "spring.datasource.password", "");
        Map<String, Object> postgres = Map.of("spring.datasource.url", PG_URL + "?currentSchema=" + PG_SCHEMA,
                "spring.datasource.username", PG_USER, "spring.datasource.password", PG_PASSWORD,
                "spring.flyway.schemas", PG_SCHEMA);
        return Stream.of(Arguments.of("H2 file", file), Arguments.of("PostgreSQL", postgres));
    }

    @AfterAll
    static void dropSchema() throws Exception {
        try (Connection connection = DriverManager.getConnection(PG_URL, PG_USER, PG_PASSWORD);
             Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA IF EXISTS " + PG_SCHEMA + " CASCADE");
        }
    }

    /** One worker application on the database, the test broker and the shared loopback LLM and RAG servers. */
    static ConfigurableApplicationContext startWorker(Map<String, Object> database) {
        Map<String, Object> properties = new LinkedHashMap<>();
        WorkerITSupport.workerProperties((name, value) -> properties.put(name, value.get()));
        properties.put("spring.rabbitmq.virtual-host", BROKER.vhost);
        properties.putAll(database);
        properties.put("server.port", 0);
        // as command-line arguments: they must win over config/application.yaml (builder properties are only defaults)
        String[] args = properties.entrySet().stream().map(e -> "--" + e.getKey() + "=" + e.getValue())
                .toArray(String[]::new);
        return new SpringApplicationBuilder(WorkerApplication.class).run(args);
    }

    static int port(ConfigurableApplicationContext worker) {
        return Integer.parseInt(worker.getEnvironment().getProperty("local.server.port"));
    }

    static HttpRequest.Builder request(int port, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofMinutes(1));
    }

    HttpResponse<String> send(HttpRequest request) {
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join();
    }

    HttpResponse<String> submit(int port, String body) {
        return send(request(port, "/api/v1/tasks").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    JsonNode state(int port, String id) {
        return WorkerITSupport.parse(send(request(port, "/api/v1/tasks/" + id).GET().build()).body());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void aTaskCompletedByOneWorkerIsAnsweredAndNotRunAgainByTheNextOnTheSameDatabase(String name,
                                                                                     Map<String, Object> database) {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        WorkerITSupport.LLM.reset();
        String id = "restart-" + UUID.randomUUID().toString().substring(0, 8);
        String body = WorkerITSupport.json(Map.of("task_id", id, "domain", "code-general",
                "description", "Create fibonacci function", "priority", "high"));
        JsonNode completed;
        try (ConfigurableApplicationContext first = startWorker(database)) {
            int port = port(first);
            HttpResponse<String> queued = submit(port, body);
            assertThat(queued.statusCode()).as(queued.body()).isEqualTo(202);
            await().atMost(TIMEOUT).until(() -> "completed".equals(state(port, id).path("status").asText()));
            completed = state(port, id);
            assertThat(outputs.awaitJson(id, TIMEOUT)).isEqualTo(completed.path("result"));
        }
        assertThat(WorkerITSupport.LLM.calls()).hasSize(1);

        try (ConfigurableApplicationContext second = startWorker(database)) {
            int port = port(second);
            JsonNode after = state(port, id);
            assertThat(after).as("the state a new worker answers (%s)", name).isEqualTo(completed);
            assertThat(after.path("status").asText()).isEqualTo("completed");

            HttpResponse<String> again = submit(port, body);
            assertThat(again.statusCode()).isEqualTo(200);
            assertThat(WorkerITSupport.parse(again.body())).isEqualTo(completed);
            BROKER.publishTask("small", body);
            await().atMost(TIMEOUT).until(() -> outputs.of(id).size() == 2);
            assertThat(WorkerITSupport.parse(TestBroker.body(outputs.of(id).get(1)))).isEqualTo(completed.path("result"));
        }
        assertThat(WorkerITSupport.LLM.calls()).as("the model ran once, before the restart").hasSize(1);
    }
}
