package io.dats.worker.it;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.dats.worker.support.ClassDataArchive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The worker started from the built jar as the README's run command starts it ({@code bin/worker}: the jar extracted
 * with its class-data archive, made by the first start after a build; {@code exec}, so the recorded PID is the JVM's)
 * as a process of its own on a free loopback port, with its output in {@code target/<name>-<n>.log}; stopped by its
 * recorded PID with SIGKILL or SIGTERM. {@link #restart()} starts a new process with the same arguments (the same task store when it is a file).
 */
final class WorkerJar implements AutoCloseable {

    private static final AtomicInteger STARTS = new AtomicInteger();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final String name;
    private final Map<String, String> arguments;
    private final Process process;
    private final int port;
    private final Path log;

    private WorkerJar(String name, Map<String, String> arguments) throws IOException {
        this.name = name;
        this.arguments = arguments;
        this.port = freePort();
        this.log = Path.of("target", name + "-" + STARTS.incrementAndGet() + ".log");
        Files.createDirectories(log.getParent());
        List<String> command = new ArrayList<>(List.of("bin/worker", "--server.port=" + port));
        arguments.forEach((key, value) -> command.add("--" + key + "=" + value));
        process = new ProcessBuilder(command).directory(new File(".")).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        // a test JVM that ends (or is killed) without closing it leaves no worker behind
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
    }

    /**
     * Starts the worker and waits until {@code /health} answers 200. The arguments are Spring properties; an in-memory
     * task store is used unless {@code spring.datasource.url} is given (the default H2 file outlives runs).
     */
    static WorkerJar start(String name, Map<String, String> arguments) {
        Map<String, String> all = new LinkedHashMap<>();
        all.put("spring.datasource.url", "jdbc:h2:mem:" + name);
        all.put("spring.security.user.password", "worker-jar-" + name);
        all.put("worker.rag.embedded.index-on-start", "false");
        all.putAll(arguments);
        try {
            WorkerJar worker = new WorkerJar(name, all);
            worker.awaitHealthy();
            return worker;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A new process with the same arguments. */
    WorkerJar restart() {
        assertThat(process.isAlive()).as("restart after the old process ended").isFalse();
        return start(name, arguments);
    }

    private void awaitHealthy() {
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500)).until(() -> {
            assertThat(process.isAlive()).as("the worker process runs (see " + log + ")").isTrue();
            try {
                return get("/health").statusCode() == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    long pid() {
        return process.pid();
    }

    /** Whether the JVM mapped the class-data archive {@code bin/worker} gave it (rather than starting without). */
    boolean mapsClassDataArchive() {
        return ClassDataArchive.isMappedBy(pid());
    }

    int port() {
        return port;
    }

    Path log() {
        return log;
    }

    boolean alive() {
        return process.isAlive();
    }

    /** The exit code of the ended process. */
    int exitValue() {
        return process.exitValue();
    }

    /** SIGKILL by the recorded PID: no drain, no acknowledgements, in-flight deliveries go back to their queues. */
    void kill() {
        signal("KILL");
        awaitExit(Duration.ofSeconds(30));
    }

    /** SIGTERM by the recorded PID (a deploy): returns the time until the process exited. */
    Duration terminate(Duration max) {
        long start = System.nanoTime();
        signalTerminate();
        awaitExit(max);
        return Duration.ofNanos(System.nanoTime() - start);
    }

    /** SIGTERM by the recorded PID without waiting: the caller watches the drain. */
    void signalTerminate() {
        signal("TERM");
    }

    private void signal(String signal) {
        try {
            Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid())).inheritIO().start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0)
                    .as("kill -" + signal + " " + pid()).isTrue();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    void awaitExit(Duration max) {
        try {
            assertThat(process.waitFor(max.toMillis(), TimeUnit.MILLISECONDS))
                    .as("worker " + pid() + " exits within " + max).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
