package io.dats.worker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private RabbitMQ node for tests that stop or restart a broker: its own node name, AMQP and distribution ports,
 * Erlang cookie, configuration, data and log folders, all in one temp folder. Such tests never touch the machine's
 * shared broker (127.0.0.1:5672, node rabbit@localhost). {@link #stop()} and {@link #start()} keep the data folder,
 * so durable queues and persistent messages survive them; {@link #close()} stops the node and deletes the folder.
 *
 * <p>Runs the scripts of Debian's install directly ({@code /usr/lib/rabbitmq/bin}): the {@code /usr/sbin} wrappers
 * switch to the rabbitmq user when run as root, and that user cannot write the temp folder.
 */
final class OwnRabbitNode implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OwnRabbitNode.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    static final Path BIN = Path.of("/usr/lib/rabbitmq/bin");
    static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);

    private final String nodeName;
    private final int port;
    private final int distPort;
    private final Path dir;
    private final Path logDir;
    private final Map<String, String> environment;
    private final Thread shutdownHook;
    private volatile boolean running;
    private volatile boolean closed;

    private OwnRabbitNode(String name) throws IOException {
        for (String script : List.of("rabbitmq-server", "rabbitmqctl")) {
            if (!Files.isExecutable(BIN.resolve(script))) {
                throw new IllegalStateException(BIN.resolve(script) + " is missing: this test starts its own RabbitMQ "
                        + "node from Debian's rabbitmq-server package; run bin/ensure-rabbitmq (it installs it)");
            }
        }
        nodeName = "it-" + name + "-" + UUID.randomUUID().toString().substring(0, 8) + "@localhost";
        int[] ports = freePorts();
        port = ports[0];
        distPort = ports[1];
        dir = Files.createTempDirectory("rabbitmq-" + name + "-");
        logDir = Files.createDirectories(dir.resolve("log"));
        Path home = Files.createDirectories(dir.resolve("home"));
        Path mnesia = Files.createDirectories(dir.resolve("mnesia"));
        Path config = Files.writeString(dir.resolve("rabbitmq.conf"), String.join("\n",
                "listeners.tcp.local = 127.0.0.1:" + port,
                // guest stays loopback-only (the default); the tests connect to 127.0.0.1
                "loopback_users.guest = true",
                ""));
        Path plugins = Files.writeString(dir.resolve("enabled_plugins"), "[].\n");
        // an empty env file of its own: /etc/rabbitmq/rabbitmq-env.conf names the main node (NODENAME=rabbit@localhost)
        Path envFile = Files.writeString(dir.resolve("rabbitmq-env.conf"), "");
        environment = Map.ofEntries(
                Map.entry("RABBITMQ_NODENAME", nodeName),
                Map.entry("RABBITMQ_NODE_PORT", Integer.toString(port)),
                // the default (node port + 20000) could meet the main node's 25672 or another test's port
                Map.entry("RABBITMQ_DIST_PORT", Integer.toString(distPort)),
                Map.entry("RABBITMQ_MNESIA_BASE", mnesia.toString()),
                Map.entry("RABBITMQ_LOG_BASE", logDir.toString()),
                Map.entry("RABBITMQ_CONFIG_FILE", config.toString()),
                Map.entry("RABBITMQ_ADVANCED_CONFIG_FILE", dir.resolve("advanced.config").toString()),
                Map.entry("RABBITMQ_ENABLED_PLUGINS_FILE", plugins.toString()),
                Map.entry("RABBITMQ_CONF_ENV_FILE", envFile.toString()),
                // Erlang distribution on loopback only, like the main node
                Map.entry("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"),
                Map.entry("ERL_EPMD_ADDRESS", "127.0.0.1"),
                // the Erlang cookie is $HOME/.erlang.cookie: the node's own, shared by the server and rabbitmqctl
                Map.entry("HOME", home.toString()));
        shutdownHook = new Thread(this::close, "stop-" + nodeName);
    }

    /** Makes and starts a node; a JVM shutdown hook closes it if the test does not. */
    static OwnRabbitNode start(String name) {
        OwnRabbitNode node;
        try {
            node = new OwnRabbitNode(name);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the folder of a test RabbitMQ node", e);
        }
        Runtime.getRuntime().addShutdownHook(node.shutdownHook);
        node.start();
        return node;
    }

    int port() {
        return port;
    }

    /** Starts the node (again) on its data folder and waits until it serves AMQP. */
    synchronized void start() {
        if (closed) {
            throw new IllegalStateException(nodeName + " is closed");
        }
        long begin = System.nanoTime();
        running = true;
        Result detached = run(Duration.ofSeconds(30), "rabbitmq-server", "-detached");
        if (detached.exitCode() != 0) {
            throw failure("rabbitmq-server -detached exited with " + detached.exitCode() + ": " + detached.output());
        }
        // `await_startup` right after -detached fails while the node is not yet registered with epmd: poll it
        try {
            Awaitility.await("RabbitMQ node " + nodeName + " serving AMQP on 127.0.0.1:" + port)
                    .atMost(START_TIMEOUT)
                    .pollDelay(Duration.ofMillis(500))
                    .pollInterval(Duration.ofMillis(500))
                    .until(() -> answers() && ctl(Duration.ofSeconds(20), "await_startup", "--timeout", "10").exitCode() == 0);
        } catch (ConditionTimeoutException e) {
            throw failure("RabbitMQ node " + nodeName + " did not start within " + START_TIMEOUT.toSeconds() + " s");
        }
        LOG.info("RabbitMQ node {} up on 127.0.0.1:{} in {} ms (folder {})", nodeName, port,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin), dir);
    }

    /** Stops the node gracefully ({@code rabbitmqctl shutdown} returns once the Erlang VM has exited). */
    synchronized void stop() {
        long begin = System.nanoTime();
        Result result = ctl(STOP_TIMEOUT, "shutdown");
        if (result.exitCode() != 0) {
            throw failure("rabbitmqctl shutdown exited with " + result.exitCode() + ": " + result.output());
        }
        running = false;
        LOG.info("RabbitMQ node {} stopped in {} ms", nodeName, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
    }

    /**
     * Deliveries not yet acknowledged, over every channel of the node, as the channels count them now. (The queue
     * figures of {@code rabbitmqctl list_queues} lag by up to 5 s for quorum queues: they are refreshed on the queue's
     * tick. For ready messages and consumers, a passive queue declaration answers exactly.)
     */
    long unacknowledged() {
        Result result = ctl(Duration.ofSeconds(30), "list_channels", "--formatter", "json", "messages_unacknowledged");
        if (result.exitCode() != 0) {
            throw failure("rabbitmqctl list_channels exited with " + result.exitCode() + ": " + result.output());
        }
        try {
            long total = 0;
            for (JsonNode channel : MAPPER.readTree(result.output())) {
                total += channel.path("messages_unacknowledged").asLong();
            }
            return total;
        } catch (IOException e) {
            throw new IllegalStateException("unexpected list_channels output: " + result.output(), e);
        }
    }

    /** Stops the node if it runs and deletes its folder; keeps the folder (and says where) if the node would not stop. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down already
            }
        }
        if (running) {
            try {
                stop();
            } catch (RuntimeException e) {
                LOG.error("Could not stop RabbitMQ node {}; its folder {} is kept", nodeName, dir, e);
                return;
            }
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            LOG.warn("Could not delete {}", dir, e);
        }
    }

    private boolean answers() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private Result ctl(Duration timeout, String... args) {
        List<String> command = new ArrayList<>(List.of("-n", nodeName, "-q"));
        command.addAll(List.of(args));
        return run(timeout, "rabbitmqctl", command.toArray(String[]::new));
    }

    private Result run(Duration timeout, String script, String... args) {
        List<String> command = new ArrayList<>();
        command.add(BIN.resolve(script).toString());
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        builder.environment().keySet().removeIf(name -> name.startsWith("RABBITMQ_") || name.startsWith("ERL_"));
        builder.environment().putAll(environment);
        Path output = null;
        try {
            // to a file, not a pipe: the Erlang VM that -detached leaves running must not hold the test's pipe open
            output = Files.createTempFile(dir, script + "-", ".out");
            builder.redirectOutput(output.toFile());
            Process process = builder.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                return new Result(-1, String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s");
            }
            return new Result(process.exitValue(), Files.readString(output, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + command, e);
        } finally {
            if (output != null) {
                output.toFile().delete();
            }
        }
    }

    /** The failure, with where the node's output files are and the end of its log. */
    private IllegalStateException failure(String message) {
        Path log = logDir.resolve(nodeName + ".log");
        String tail = "";
        try {
            List<String> lines = Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
            tail = String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException | UncheckedIOException e) {
            tail = "(cannot read " + log + ": " + e + ")";
        }
        LOG.error("{}; the node's output files are in {}", message, logDir);
        return new IllegalStateException(message + "; the node's output files are in " + logDir
                + (tail.isEmpty() ? "" : "; end of " + log.getFileName() + ":\n" + tail));
    }

    private static int[] freePorts() throws IOException {
        try (ServerSocket first = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ServerSocket second = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return new int[] {first.getLocalPort(), second.getLocalPort()};
        }
    }

    private record Result(int exitCode, String output) {
    }
}
