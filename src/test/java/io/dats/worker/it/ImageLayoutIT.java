package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.support.FakeLlmServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The Dockerfile's run stage without a container engine: the built jar is extracted with the Dockerfile's own
 * {@code jarmode=tools} command, its layers and the folders it copies are laid out as its COPY lines say, and the
 * worker is started from there with the image's ENV and ENTRYPOINT (a few variables overridden as {@code docker run -e}
 * would: port, broker virtual host, the LLM stand-in, an in-memory task store, documents for the embedded RAG service).
 * Checked: the HEALTHCHECK's request succeeds without credentials, log lines are JSON, a task completes with context
 * from the embedded RAG service (whose tokenizer unpacks into DJL_CACHE_DIR, not the home folder), and SIGTERM ends the
 * process.
 */
class ImageLayoutIT {

    static final ObjectMapper MAPPER = new ObjectMapper();
    static final FakeLlmServer LLM = new FakeLlmServer().start();
    static final String DOCKERFILE = read(Path.of("Dockerfile"));

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @AfterAll
    static void stopServers() {
        LLM.close();
        TestBroker.forVirtualHostNamed("image-layout").ifPresent(TestBroker::close);
    }

    @Test
    void theImagesRunStageStartsHealthyLogsJsonAndRunsATask() throws Exception {
        TestBroker broker = TestBroker.named("image-layout");
        EventInbox.events(broker, "task.output.created");
        Path work = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "image-layout-");
        Path layers = work.resolve("layers");
        Path app = work.resolve("app");
        Files.createDirectories(app);

        // stage 1's extraction, as written in the Dockerfile
        Matcher extract = Pattern.compile("java -Djarmode=tools -jar (\\S+) extract (.*?) --destination (\\S+)")
                .matcher(DOCKERFILE);
        assertThat(extract.find()).as("the Dockerfile extracts the jar's layers").isTrue();
        List<String> command = new ArrayList<>(List.of(java(), "-Djarmode=tools", "-jar", extract.group(1), "extract"));
        command.addAll(List.of(extract.group(2).split(" ")));
        command.addAll(List.of("--destination", layers.toString()));
        Process extraction = new ProcessBuilder(command).inheritIO().start();
        assertThat(extraction.waitFor(120, TimeUnit.SECONDS) && extraction.exitValue() == 0).isTrue();

        // stage 2's COPY lines: the layers from stage 1, then the folders from the build context
        String runStage = DOCKERFILE.substring(DOCKERFILE.lastIndexOf("\nFROM "));
        Matcher copy = Pattern.compile("^COPY (--from=build )?(\\S+) (\\S+)$", Pattern.MULTILINE).matcher(runStage);
        int copies = 0;
        while (copy.find()) {
            Path source = copy.group(1) != null ? layers.resolve(copy.group(2).replaceFirst("^/layers/", ""))
                    : Path.of(copy.group(2));
            copyTree(source, app.resolve(copy.group(3)));
            copies++;
        }
        assertThat(copies).isGreaterThanOrEqualTo(7);
        Files.createDirectories(app.resolve("data"));

        int port = freePort();
        Map<String, String> env = new LinkedHashMap<>(imageEnv(runStage));
        // as docker run -e would
        env.put("SERVER_PORT", String.valueOf(port));
        env.put("RABBITMQ_VHOST", broker.vhost);
        env.put("SPRING_SECURITY_USER_NAME", "user");
        env.put("SPRING_SECURITY_USER_PASSWORD", "image-it");
        env.put("WORKER_DB_URL", "jdbc:h2:mem:image-layout");
        // the embedded RAG service (the image's default) on documents mounted at /app/docs; /app is the user's home
        Path docs = Files.createDirectories(app.resolve("docs"));
        Files.writeString(docs.resolve("fibonacci.md"), "# Fibonacci\n\nThe project computes Fibonacci numbers "
                + "iteratively with memoisation; functions are named fib_<variant>.\n");
        env.put("HOME", app.toString());
        env.put("DJL_CACHE_DIR", work.resolve(env.get("DJL_CACHE_DIR").substring(1)).toString());
        env.put("WORKER_RAG_TIMEOUT", "60s");
        env.put("WORKER_TIERS_SMALL_BASE_URL", LLM.ollamaBaseUrl());
        env.put("JAVA_TOOL_OPTIONS", env.getOrDefault("JAVA_TOOL_OPTIONS", "") + " -Xmx512m");

        List<String> entrypoint = entrypoint(runStage);
        entrypoint.set(0, java());
        Path log = Path.of("target", "image-layout-" + broker.vhost + ".log").toAbsolutePath();
        long started = System.nanoTime();
        ProcessBuilder builder = new ProcessBuilder(entrypoint).directory(app.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(env);
        Process worker = builder.start();
        try {
            // the HEALTHCHECK's request, on the overridden port, without credentials (curl -f: a 2xx answer)
            Matcher healthcheck = Pattern.compile("curl .*?(http://127\\.0\\.0\\.1:)\\d+(/\\S*)").matcher(DOCKERFILE);
            assertThat(healthcheck.find()).isTrue();
            URI health = URI.create(healthcheck.group(1) + port + healthcheck.group(2));
            await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                assertThat(worker.isAlive()).as("the worker runs (see " + log + ")").isTrue();
                try {
                    return http.send(HttpRequest.newBuilder(health).timeout(Duration.ofSeconds(5)).GET().build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() / 100 == 2;
                } catch (IOException e) {
                    return false;
                }
            });
            System.out.printf("Image layout: %s healthy %d ms after start%n", health,
                    Duration.ofNanos(System.nanoTime() - started).toMillis());

            // the start-up index of the documents (admin endpoint)
            String admin = "Basic " + java.util.Base64.getEncoder().encodeToString("user:image-it".getBytes());
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                        + "/rag/api/v1/status")).header("Authorization", admin).GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(status.statusCode()).as(status.body()).isEqualTo(200);
                String state = MAPPER.readTree(status.body()).path("startup_index").asText();
                assertThat(state).doesNotStartWith("failed");
                return "done".equals(state);
            });

            HttpResponse<String> task = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                            + "/api/v1/execute")).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"task_id\":\"image-1\",\"domain\":\"code-general\","
                            + "\"description\":\"Create fibonacci function\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(task.statusCode()).as(task.body()).isEqualTo(200);
            assertThat(MAPPER.readTree(task.body()).path("status").asText()).isEqualTo("completed");
            assertThat(MAPPER.readTree(task.body()).path("rag").asText()).isEqualTo("used");
            // the tokenizer's native library went to DJL_CACHE_DIR (writable /tmp), not into the home folder /app
            assertThat(Path.of(env.get("DJL_CACHE_DIR"))).isNotEmptyDirectory();
            assertThat(app.resolve(".djl.ai")).doesNotExist();

            // JSON lines: the application's own lines are JSON objects with a message
            List<JsonNode> lines = new ArrayList<>();
            for (String line : Files.readAllLines(log)) {
                if (line.startsWith("{")) {
                    lines.add(MAPPER.readTree(line));
                }
            }
            assertThat(lines).anySatisfy(line -> assertThat(line.path("message").asText()).startsWith("Started WorkerApplication"));
        } finally {
            long sigterm = System.nanoTime();
            worker.destroy(); // SIGTERM
            boolean exited = worker.waitFor(90, TimeUnit.SECONDS);
            if (!exited) {
                worker.destroyForcibly();
            }
            System.out.printf("Image layout: exit %d ms after SIGTERM%n", Duration.ofNanos(System.nanoTime() - sigterm).toMillis());
            deleteTree(work);
            assertThat(exited).as("the worker exits on SIGTERM").isTrue();
        }
    }

    static Map<String, String> imageEnv(String runStage) {
        Map<String, String> env = new LinkedHashMap<>();
        Matcher m = Pattern.compile("^ENV (.*?)$", Pattern.MULTILINE).matcher(runStage.replaceAll("\\\\\\n", " "));
        while (m.find()) {
            Matcher pair = Pattern.compile("([A-Z_][A-Z0-9_]*)=(\"[^\"]*\"|\\S+)").matcher(m.group(1));
            while (pair.find()) {
                env.put(pair.group(1), pair.group(2).replace("\"", ""));
            }
        }
        return env;
    }

    static List<String> entrypoint(String runStage) {
        Matcher m = Pattern.compile("^ENTRYPOINT \\[(.*)]$", Pattern.MULTILINE).matcher(runStage);
        assertThat(m.find()).isTrue();
        List<String> parts = new ArrayList<>();
        Matcher word = Pattern.compile("\"([^\"]*)\"").matcher(m.group(1));
        while (word.find()) {
            parts.add(word.group(1));
        }
        return parts;
    }

    static void copyTree(Path source, Path target) throws IOException {
        try (Stream<Path> files = Files.walk(source)) {
            for (Path file : files.toList()) {
                Path to = target.resolve(source.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(to);
                } else {
                    Files.createDirectories(to.getParent());
                    Files.copy(file, to, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
