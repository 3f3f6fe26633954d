package io.dats.worker.store;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.stream.Stream;

import javax.sql.DataSource;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import io.dats.worker.task.Task;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.jdbc.core.simple.JdbcClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The task store against both databases it supports: an H2 file database (the default; reopened to show the state
 * survives a restart) and the machine's PostgreSQL (bin/ensure-postgresql: role worker, database worker_test, a fresh
 * schema per run), both migrated by Flyway from db/migration.
 */
class TaskStoreTest {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static CamelContext camel;
    static Path h2Folder;
    static final String PG_SCHEMA = "store_test_" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void start() throws Exception {
        camel = new DefaultCamelContext();
        camel.start();
        h2Folder = Files.createTempDirectory("task-store");
    }

    @AfterAll
    static void stop() throws Exception {
        camel.stop();
        try (HikariDataSource pg = postgres(); Connection connection = pg.getConnection();
             Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA IF EXISTS " + PG_SCHEMA + " CASCADE");
        }
    }

    static Stream<Arguments> databases() {
        return Stream.of(
                Arguments.of("H2 file", (Supplier<HikariDataSource>) () -> dataSource(
                        "jdbc:h2:file:" + h2Folder.resolve("tasks").toAbsolutePath(), "sa", "")),
                Arguments.of("PostgreSQL", (Supplier<HikariDataSource>) TaskStoreTest::postgres));
    }

    static HikariDataSource postgres() {
        String host = System.getenv().getOrDefault("WORKER_TEST_PG_HOST", "127.0.0.1");
        String port = System.getenv().getOrDefault("WORKER_TEST_PG_PORT", "5432");
        String database = System.getenv().getOrDefault("WORKER_TEST_PG_DATABASE", "worker_test");
        HikariDataSource dataSource = dataSource("jdbc:postgresql://" + host + ":" + port + "/" + database
                        + "?currentSchema=" + PG_SCHEMA,
                System.getenv().getOrDefault("WORKER_TEST_PG_USER", "worker"),
                System.getenv().getOrDefault("WORKER_TEST_PG_PASSWORD", "worker"));
        return dataSource;
    }

    static HikariDataSource dataSource(String url, String user, String password) {
        HikariDataSource dataSource = new HikariDataSource();
        dataSource.setJdbcUrl(url);
        dataSource.setUsername(user);
        dataSource.setPassword(password);
        dataSource.setMaximumPoolSize(2);
        return dataSource;
    }

    static TaskStore migrated(DataSource dataSource) {
        Flyway.configure().dataSource(dataSource).schemas(dataSource instanceof HikariDataSource h
                && h.getJdbcUrl().startsWith("jdbc:postgresql") ? new String[] {PG_SCHEMA} : new String[0])
                .load().migrate();
        return new TaskStore(JdbcClient.create(dataSource), MAPPER);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void keepsATasksStateAcrossARestartAndMakesItsIdIdempotent(String name, Supplier<HikariDataSource> database) {
        String id = "store-" + UUID.randomUUID();
        try (HikariDataSource first = database.get()) {
            TaskStore store = migrated(first);
            Exchange run = exchange(id, "queue");
            store.begin(run);
            assertThat(run.getVariable(TaskStore.STORED_STATUS)).isNull();
            assertThat(store.find(id)).hasValueSatisfying(record -> {
                assertThat(record.status()).isEqualTo("running");
                assertThat(record.runs()).isEqualTo(1);
                assertThat(record.startedAt()).isNotNull();
            });
            run.getMessage().setBody("{\"task_id\":\"" + id + "\",\"status\":\"completed\"}");
            assertThat(store.complete(run)).contains("completed");
            assertThat(store.find(id).orElseThrow().status()).as("recorded, being published").isEqualTo("publishing");
            store.published(run);
        }
        // the worker restarts: a new pool, the same database, migrations already applied
        try (HikariDataSource second = database.get()) {
            TaskStore store = migrated(second);
            assertThat(store.find(id)).hasValueSatisfying(record -> {
                assertThat(record.status()).isEqualTo("completed");
                assertThat(record.completedAt()).isNotNull();
                assertThat(store.view(record).get("result").toString()).contains("\"status\":\"completed\"");
            });
            Exchange duplicate = exchange(id, "rest");
            store.begin(duplicate);
            assertThat(duplicate.getVariable(TaskStore.STORED_STATUS)).isEqualTo("completed");
            assertThat(duplicate.getVariable(TaskStore.STORED_OUTCOME, String.class)).contains(id);
            assertThat(store.recent("completed", "small", 10)).extracting(TaskStore.TaskRecord::taskId).contains(id);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void aFailureNeverReplacesACompletionAndIsFinalForQueueDuplicates(String name, Supplier<HikariDataSource> database) {
        String done = "store-done-" + UUID.randomUUID();
        String failed = "store-failed-" + UUID.randomUUID();
        try (HikariDataSource dataSource = database.get()) {
            TaskStore store = migrated(dataSource);
            completed(store, done, "{\"output\":1}");
            Exchange lateFailure = exchange(done, "queue");
            lateFailure.setVariable("failureEvent", "{\"error\":\"llm_failed\"}");
            store.fail(lateFailure);
            assertThat(lateFailure.getVariable(TaskStore.STORED_STATUS)).isEqualTo("completed");
            assertThat(store.find(done).orElseThrow().status()).isEqualTo("completed");

            // a publish of the task's own output that failed is that failure now (no completion is published
            // instead), and the output stays the task's result: a redelivery publishes it without a model call
            String unpublished = "store-unpublished-" + UUID.randomUUID();
            Exchange publishing = exchange(unpublished, "queue");
            store.begin(publishing);
            publishing.getMessage().setBody("{\"output\":2}");
            store.complete(publishing);
            store.fail(withFailure(publishing));
            assertThat(publishing.getVariable(TaskStore.STORED_STATUS)).isNull();
            Exchange redelivered = exchange(unpublished, "queue");
            store.begin(redelivered);
            assertThat(redelivered.getVariable(TaskStore.STORED_STATUS)).isEqualTo("completed");
            assertThat(redelivered.getVariable(TaskStore.STORED_OUTCOME, String.class)).isEqualTo("{\"output\":2}");

            Exchange failing = exchange(failed, "queue");
            store.begin(failing);
            failing.setVariable("failureEvent", "{\"error\":\"llm_failed\"}");
            store.fail(failing);
            Exchange queueDuplicate = exchange(failed, "queue");
            store.begin(queueDuplicate);
            assertThat(queueDuplicate.getVariable(TaskStore.STORED_STATUS)).isEqualTo("failed");
            Exchange restRetry = exchange(failed, "rest");
            store.begin(restRetry);
            assertThat(restRetry.getVariable(TaskStore.STORED_STATUS)).as("an explicit REST retry runs again").isNull();
            assertThat(store.find(failed).orElseThrow().runs()).isEqualTo(2);
            Exchange replayed = exchange(failed, "queue");
            store.fail(withFailure(replayed));
            replayed.getMessage().setHeader(TaskStore.REPLAYED_HEADER, "true");
            store.begin(replayed);
            assertThat(replayed.getVariable(TaskStore.STORED_STATUS)).as("a replayed task runs again").isNull();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("databases")
    void retentionDeletesTasksThatEndedBeforeItsCutoffAndNeverOnesInFlight(String name, Supplier<HikariDataSource> database) {
        String completed = "store-old-done-" + UUID.randomUUID();
        String failed = "store-old-failed-" + UUID.randomUUID();
        String running = "store-running-" + UUID.randomUUID();
        String publishing = "store-publishing-" + UUID.randomUUID();
        try (HikariDataSource dataSource = database.get()) {
            TaskStore store = migrated(dataSource);
            completed(store, completed, "{\"output\":1}");
            Exchange failing = exchange(failed, "queue");
            store.begin(failing);
            store.fail(withFailure(failing));
            store.begin(exchange(running, "queue"));
            Exchange unpublished = exchange(publishing, "queue");
            store.begin(unpublished);
            unpublished.getMessage().setBody("{\"output\":2}");
            store.complete(unpublished);
            Instant now = Instant.now();

            // a day's retention: nothing here is that old
            assertThat(new TaskStoreRetention(store, Duration.ofDays(1), Clock.fixed(now, ZoneOffset.UTC)).purge()).isZero();
            assertThat(store.find(completed)).isPresent();
            // 0 keeps every task
            assertThat(new TaskStoreRetention(store, Duration.ZERO, Clock.fixed(now.plusSeconds(86_400), ZoneOffset.UTC))
                    .purge()).isZero();
            assertThat(store.find(failed)).isPresent();
            // a day later with a retention of an hour: the ended tasks go, the running and publishing ones stay
            int deleted = new TaskStoreRetention(store, Duration.ofHours(1),
                    Clock.fixed(now.plusSeconds(86_400), ZoneOffset.UTC)).purge();
            assertThat(deleted).isGreaterThanOrEqualTo(2);
            assertThat(store.find(completed)).isEmpty();
            assertThat(store.find(failed)).isEmpty();
            assertThat(store.find(running)).hasValueSatisfying(record -> assertThat(record.status()).isEqualTo("running"));
            assertThat(store.find(publishing)).hasValueSatisfying(record -> assertThat(record.status()).isEqualTo("publishing"));
            // its id is new again: a duplicate now runs
            Exchange again = exchange(completed, "queue");
            store.begin(again);
            assertThat(again.getVariable(TaskStore.STORED_STATUS)).isNull();
        }
    }

    @Test
    void aNegativeRetentionIsRefusedWithTheSettingToChange() {
        assertThatThrownBy(() -> new TaskStoreRetention(null, Duration.ofHours(-1), Clock.systemUTC()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("WORKER_STORE_RETENTION");
    }

    /** A task from the queue that ran, recorded its output and had it published. */
    private static void completed(TaskStore store, String taskId, String output) {
        Exchange run = exchange(taskId, "queue");
        store.begin(run);
        run.getMessage().setBody(output);
        store.complete(run);
        store.published(run);
    }

    private static Exchange withFailure(Exchange exchange) {
        exchange.setVariable("failureEvent", "{\"error\":\"llm_failed\"}");
        return exchange;
    }

    private static Exchange exchange(String taskId, String source) {
        Exchange exchange = new DefaultExchange(camel);
        Task task = new Task(taskId, "d", "code-general", "small", null, null);
        exchange.setVariable(TaskVariables.TASK, task);
        exchange.setVariable(TaskVariables.TASK_ID, taskId);
        exchange.setVariable(TaskVariables.SOURCE, source);
        return exchange;
    }
}
