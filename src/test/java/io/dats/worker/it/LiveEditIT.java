package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.ActiveProfiles;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The dev profile's live editing, on a copy of {@code routes/} and {@code templates/}: a broken route edit is reported
 * in one log line naming the file and the error, the running routes keep running and tasks keep completing; saving the
 * fixed file reloads it; a template edit is used by the next task without a restart.
 */
@ActiveProfiles("dev")
class LiveEditIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("live-edit");
    static final Path WORK = copyOfRoutesAndTemplates();
    static final Path PIPELINE = WORK.resolve("routes/task-pipeline.camel.yaml");
    static final String ORIGINAL = read(PIPELINE);
    static final String DESCRIPTION = "\"Takes one task: validates it, and runs it unless its task id already has its "
            + "outcome (then that outcome again)\"";
    static final Duration RELOAD = Duration.ofSeconds(20);

    @Autowired
    CamelContext camelContext;

    final ListAppender<ILoggingEvent> log = new ListAppender<>();
    final Logger guardLogger = (Logger) LoggerFactory.getLogger("io.dats.worker.reload.RouteReloadGuard");

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("camel.main.routes-include-pattern", () -> "file:" + WORK.resolve("routes") + "/*.camel.yaml");
        registry.add("camel.main.routes-reload-directory", () -> WORK.resolve("routes").toString());
        registry.add("worker.template-dir", () -> WORK.resolve("templates").toString());
    }

    @BeforeEach
    void captureLog() {
        log.start();
        guardLogger.addAppender(log);
        EventInbox.events(BROKER, "task.output.created");
    }

    @AfterEach
    void restoreRoutes() {
        guardLogger.detachAppender(log);
        if (!read(PIPELINE).equals(ORIGINAL)) {
            write(PIPELINE, ORIGINAL);
        }
        await().atMost(RELOAD).untilAsserted(() -> assertThat(description("process-task"))
                .isEqualTo(DESCRIPTION.replace("\"", "")));
    }

    @AfterAll
    static void removeCopy() throws IOException {
        try (Stream<Path> files = Files.walk(WORK)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    void invalidYamlIsReportedAndTheRunningRoutesKeepProcessingTasks() {
        brokenEditKeepsTheWorkerRunning(yaml -> yaml.replace("    id: process-task\n",
                "    id: process-task\n      steps: [unclosed\n"), "task-pipeline.camel.yaml");
    }

    @Test
    void unknownEndpointIsReportedAndTheRunningRoutesKeepProcessingTasks() {
        brokenEditKeepsTheWorkerRunning(yaml -> yaml.replace("uri: direct:validate-task", "uri: nosuchcomponent:validate-task"),
                "nosuchcomponent");
    }

    @Test
    void unknownEndpointOptionIsReportedAndTheRunningRoutesKeepProcessingTasks() {
        brokenEditKeepsTheWorkerRunning(yaml -> yaml.replace("uri: direct:validate-task",
                "uri: direct:validate-task?noSuchOption=1"), "noSuchOption");
    }

    @Test
    void schemaErrorIsReportedAndTheRunningRoutesKeepProcessingTasks() {
        brokenEditKeepsTheWorkerRunning(yaml -> yaml.replace("            uri: direct:validate-task\n",
                "            uri: direct:validate-task\n            noSuchField: 1\n"), "noSuchField");
    }

    @Test
    void missingBeanIsReportedAndTheLastGoodRoutesRunAgain() {
        brokenEditKeepsTheWorkerRunning(yaml -> yaml.replace("ref: apiKeys", "ref: noSuchBean"), "noSuchBean");
    }

    @Test
    void fixedRouteFileIsReloaded() {
        write(PIPELINE, ORIGINAL.replace("uri: direct:validate-task", "uri: nosuchcomponent:validate-task"));
        awaitError("nosuchcomponent");
        write(PIPELINE, ORIGINAL.replace(DESCRIPTION, "Takes one task (edited live)"));
        await().atMost(RELOAD).untilAsserted(() -> {
            assertThat(description("process-task")).isEqualTo("Takes one task (edited live)");
            assertThat(messages(Level.INFO)).anyMatch(m -> m.contains("task-pipeline.camel.yaml reloaded")
                    && m.contains("process-task"));
        });
        assertCompletes("after-fix-" + UUID.randomUUID(), "code-general");
    }

    @Test
    void restRouteFileIsReloaded() {
        Path status = WORK.resolve("routes/task-status.camel.yaml");
        String original = read(status);
        String description = "description: Answers one task's state from the task store";
        assertThat(original).contains(description);
        try {
            write(status, original.replace(description, "description: Answers one task's state (edited live)"));
            await().atMost(RELOAD).untilAsserted(() -> {
                assertThat(description("task-status")).isEqualTo("Answers one task's state (edited live)");
                assertThat(messages(Level.INFO)).anyMatch(m -> m.contains("task-status.camel.yaml reloaded"));
            });
            assertThat(camelContext.getRouteController().getRouteStatus("task-status-endpoint")).isEqualTo(ServiceStatus.Started);
            HttpResponse<String> unknown = send(request("/api/v1/tasks/no-such-task").GET().build());
            assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(404);
        } finally {
            write(status, original);
            await().atMost(RELOAD).untilAsserted(() ->
                    assertThat(description("task-status")).isEqualTo("Answers one task's state from the task store"));
        }
        HttpResponse<String> unknown = send(request("/api/v1/tasks/no-such-task").GET().build());
        assertThat(unknown.statusCode()).as(unknown.body()).isEqualTo(404);
    }

    @Test
    void templateEditIsUsedByTheNextTask() {
        Path template = WORK.resolve("templates/documentation.vm");
        String marker = "Live-edit marker " + UUID.randomUUID();
        String original = read(template);
        try {
            write(template, original + "\n" + marker + "\n");
            assertCompletes("template-" + UUID.randomUUID(), "documentation");
            assertThat(LLM.calls()).last().satisfies(call -> assertThat(call.prompt()).contains(marker));
        } finally {
            write(template, original);
        }
    }

    private String description(String routeId) {
        org.apache.camel.Route route = camelContext.getRoute(routeId);
        return route == null ? null : route.getDescription();
    }

    private void brokenEditKeepsTheWorkerRunning(UnaryOperator<String> edit, String expectedInError) {
        String broken = edit.apply(ORIGINAL);
        assertThat(broken).isNotEqualTo(ORIGINAL);
        write(PIPELINE, broken);
        String error = awaitError(expectedInError);
        assertThat(error).contains(PIPELINE.toString()).doesNotContain("\n");
        for (String id : List.of("process-task", "run-task", "validate-task", "publish-output")) {
            assertThat(camelContext.getRouteController().getRouteStatus(id)).as(id).isEqualTo(ServiceStatus.Started);
        }
        assertThat(description("process-task")).isEqualTo(DESCRIPTION.replace("\"", ""));
        assertCompletes("while-broken-" + UUID.randomUUID(), "code-general");
    }

    private String awaitError(String expected) {
        return await().atMost(RELOAD).until(() -> messages(Level.ERROR).stream()
                .filter(m -> m.contains("not reloaded") && m.contains(expected)).findFirst().orElse(null),
                java.util.Objects::nonNull);
    }

    private void assertCompletes(String taskId, String domain) {
        HttpResponse<String> response = execute(task(taskId, domain, "Create fibonacci function"));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode body = parse(response.body());
        assertThat(body.path("status").asText()).isEqualTo("completed");
    }

    private List<String> messages(Level level) {
        synchronized (log.list) {
            return log.list.stream().filter(e -> e.getLevel() == level).map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    static Path copyOfRoutesAndTemplates() {
        try {
            Path work = Files.createTempDirectory("live-edit-");
            for (String folder : List.of("routes", "templates")) {
                Files.createDirectories(work.resolve(folder));
                try (Stream<Path> files = Files.list(Path.of(folder))) {
                    for (Path file : files.toList()) {
                        Files.copy(file, work.resolve(folder).resolve(file.getFileName()));
                    }
                }
            }
            return work;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, String content) {
        try {
            Files.writeString(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
