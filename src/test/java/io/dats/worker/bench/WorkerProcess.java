package io.dats.worker.bench;

import java.io.File;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadMXBean;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.management.MBeanServerConnection;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

import io.dats.worker.support.ClassDataArchive;
import org.awaitility.core.ConditionTimeoutException;

import static org.awaitility.Awaitility.await;

/**
 * One worker started from the built jar ({@code java -jar target/llm-task-worker.jar}) on its own port, with a JMX
 * agent on loopback for CPU time, heap and allocation, pointed at the stand-ins and at the benchmark's virtual host.
 */
final class WorkerProcess implements AutoCloseable {

    final String name;
    final Process process;
    final int port;
    final long startNanos;
    final Path log;
    private final int jmxPort;
    private JMXConnector jmx;
    private com.sun.management.OperatingSystemMXBean os;
    private com.sun.management.ThreadMXBean threads;
    private MemoryMXBean memory;
    private java.lang.management.CompilationMXBean compilation;
    private MBeanServerConnection connection;
    long readyMillis = -1;
    long peakHeapBytes;
    /** CPU ticks of the JIT compiler threads seen so far, per thread id (they come and go: HotSpot adds and ends them). */
    private final Map<String, Long> compilerTicks = new ConcurrentHashMap<>();
    private final AtomicLong compilerTicksTotal = new AtomicLong();
    private final ScheduledExecutorService compilerSampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "jit-cpu-sampler");
        thread.setDaemon(true);
        return thread;
    });

    private WorkerProcess(String name, Process process, int port, int jmxPort, long startNanos, Path log) {
        this.name = name;
        this.process = process;
        this.port = port;
        this.jmxPort = jmxPort;
        this.startNanos = startNanos;
        this.log = log;
        compilerSampler.scheduleAtFixedRate(this::sampleCompilerThreads, 0, 200, TimeUnit.MILLISECONDS);
    }

    /**
     * Reads the CPU time (utime + stime, in clock ticks) of the JIT compiler threads ("C1 CompilerThre…", "C2
     * CompilerThre…") from /proc and adds what each used since the previous sample. {@code CompilationMXBean} gives
     * the compilers' elapsed time, which on a saturated 2-core machine is mostly waiting for a core, not CPU.
     */
    private void sampleCompilerThreads() {
        try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
            tasks.forEach(task -> {
                try {
                    String stat = Files.readString(task.resolve("stat"));
                    int open = stat.indexOf('(');
                    int close = stat.lastIndexOf(')');
                    String comm = stat.substring(open + 1, close);
                    if (!comm.startsWith("C1 CompilerThre") && !comm.startsWith("C2 CompilerThre")) {
                        return;
                    }
                    String[] fields = stat.substring(close + 2).split(" ");
                    long ticks = Long.parseLong(fields[11]) + Long.parseLong(fields[12]); // utime, stime
                    Long before = compilerTicks.put(task.getFileName().toString(), ticks);
                    compilerTicksTotal.addAndGet(ticks - (before == null ? 0 : before));
                } catch (IOException | RuntimeException e) {
                    // the thread ended between the listing and the read
                }
            });
        } catch (IOException | RuntimeException e) {
            // the process is gone
        }
    }

    /** CPU milliseconds the JIT compiler threads used so far (sampled every 200 ms; 10 ms resolution). */
    long compilerCpuMillis() {
        sampleCompilerThreads();
        return compilerTicksTotal.get() * 10; // USER_HZ is 100 on Linux
    }

    /**
     * Starts a worker with {@code java -jar jar}, or, {@code throughBinWorker}, through {@code bin/worker} itself as the
     * README's run command does (the class-data archive it made, its JVM defaults unless {@code jvmOptions} are given).
     */
    static WorkerProcess start(String name, Path jar, boolean throughBinWorker, String vhost, StandIns standIns,
                               List<String> jvmOptions, Path logDir) throws IOException {
        int port = freePort();
        int jmxPort = freePort();
        Path log = logDir.toAbsolutePath().resolve("worker-" + name + ".log");
        List<String> jmxOptions = List.of(
                "-Dcom.sun.management.jmxremote.port=" + jmxPort,
                "-Dcom.sun.management.jmxremote.rmi.port=" + jmxPort,
                "-Dcom.sun.management.jmxremote.host=127.0.0.1",
                "-Djava.rmi.server.hostname=127.0.0.1",
                "-Dcom.sun.management.jmxremote.authenticate=false",
                "-Dcom.sun.management.jmxremote.ssl=false");
        List<String> command = new ArrayList<>();
        Map<String, String> environment = new LinkedHashMap<>();
        if (throughBinWorker) {
            // as the README's run command: bin/worker with its JVM defaults (or BENCH_WORKER_JAVA_OPTS as its
            // JAVA_OPTS) and its archive; the JMX agent through JAVA_TOOL_OPTIONS, which the JVM reads itself
            command.add("bin/worker");
            environment.put("JAVA_TOOL_OPTIONS", String.join(" ", jmxOptions));
            if (!jvmOptions.isEmpty()) {
                environment.put("JAVA_OPTS", String.join(" ", jvmOptions));
            }
        } else {
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(jvmOptions);
            if (System.getenv("BENCH_JFR") != null && name.equals("main")) {
                // a profile of the measured worker: jfr print --events jdk.ExecutionSample target/bench/logs/worker-main.jfr
                command.add("-XX:StartFlightRecording=settings=profile,dumponexit=true,filename="
                        + logDir.toAbsolutePath().resolve("worker-main.jfr"));
            }
            command.addAll(jmxOptions);
            command.addAll(List.of("-jar", jar.toString()));
        }
        command.addAll(List.of(
                "--server.port=" + port,
                "--spring.rabbitmq.virtual-host=" + vhost,
                "--spring.security.user.password=bench",
                "--spring.datasource.url=jdbc:h2:mem:bench-" + name + ";DB_CLOSE_DELAY=-1",
                "--worker.rag.url=" + standIns.ragUrl(),
                "--worker.rag.embedded.index-on-start=false",
                "--worker.tiers.tiny.base-url=" + standIns.baseUrl(),
                "--worker.tiers.small.base-url=" + standIns.baseUrl(),
                "--worker.tiers.coding.base-url=" + standIns.baseUrl(),
                "--worker.tiers.large.base-url=" + standIns.baseUrl() + "/v1",
                "--worker.tiers.large.api-key=bench",
                "--worker.tiers.frontier.base-url=" + standIns.baseUrl() + "/v1/",
                "--worker.tiers.frontier.api-key=bench"));
        String extra = System.getenv("BENCH_WORKER_ARGS");
        if (extra != null && !extra.isBlank()) {
            command.addAll(Arrays.asList(extra.trim().split("\\s+")));
        }
        long start = System.nanoTime();
        // the worker reads routes/, templates/ and config/ from its working directory: another checkout's (e.g. a
        // "before" build) with -Dbench.workdir=<checkout>
        File workDir = new File(System.getProperty("bench.workdir", "."));
        ProcessBuilder builder = new ProcessBuilder(command).directory(workDir).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(environment);
        Process process = builder.start();
        return new WorkerProcess(name, process, port, jmxPort, start, log);
    }

    /** Waits for GET /health 200; returns milliseconds from process start. */
    long awaitReady(Duration timeout) throws Exception {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
                .timeout(Duration.ofSeconds(2)).GET().build();
        try {
            await().atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(50)).until(() -> {
                if (!process.isAlive()) {
                    throw new IllegalStateException("worker " + name + " exited at start, see " + log);
                }
                try {
                    return http.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
                } catch (IOException e) {
                    return false; // not listening yet
                }
            });
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("worker " + name + " not ready within " + timeout + ", see " + log, e);
        }
        readyMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        connectJmx();
        return readyMillis;
    }

    private void connectJmx() throws IOException {
        JMXServiceURL url = new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort + "/jmxrmi");
        jmx = JMXConnectorFactory.connect(url);
        connection = jmx.getMBeanServerConnection();
        os = ManagementFactory.newPlatformMXBeanProxy(connection, ManagementFactory.OPERATING_SYSTEM_MXBEAN_NAME,
                com.sun.management.OperatingSystemMXBean.class);
        threads = ManagementFactory.newPlatformMXBeanProxy(connection, ManagementFactory.THREAD_MXBEAN_NAME,
                com.sun.management.ThreadMXBean.class);
        memory = ManagementFactory.newPlatformMXBeanProxy(connection, ManagementFactory.MEMORY_MXBEAN_NAME,
                MemoryMXBean.class);
        compilation = ManagementFactory.newPlatformMXBeanProxy(connection, ManagementFactory.COMPILATION_MXBEAN_NAME,
                java.lang.management.CompilationMXBean.class);
    }

    long pid() {
        return process.pid();
    }

    /** Process CPU time (user + system) in nanoseconds. */
    long cpuNanos() {
        return os.getProcessCpuTime();
    }

    /** Bytes allocated so far by the live threads (threads that ended are not counted). */
    long allocatedBytes() {
        long[] ids = threads.getAllThreadIds();
        long sum = 0;
        for (long bytes : threads.getThreadAllocatedBytes(ids)) {
            if (bytes > 0) {
                sum += bytes;
            }
        }
        return sum;
    }

    /** Milliseconds the JIT compilers spent so far (their CPU is part of the process CPU time). */
    long jitMillis() {
        return compilation.getTotalCompilationTime();
    }

    /** Milliseconds the garbage collectors spent so far (pauses and concurrent work they report). */
    long gcMillis() throws IOException {
        long total = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getPlatformMXBeans(connection, GarbageCollectorMXBean.class)) {
            total += Math.max(0, gc.getCollectionTime());
        }
        return total;
    }

    long heapUsedBytes() {
        long used = memory.getHeapMemoryUsage().getUsed();
        peakHeapBytes = Math.max(peakHeapBytes, used);
        return used;
    }

    long heapCommittedBytes() {
        return memory.getHeapMemoryUsage().getCommitted();
    }

    long nonHeapUsedBytes() {
        return memory.getNonHeapMemoryUsage().getUsed();
    }

    /** Resident set size now (VmRSS), in bytes. */
    long rssBytes() {
        return status("VmRSS:");
    }

    /** Whether the process has the class-data archive mapped (the JVM took it rather than ignoring it). */
    boolean mapsClassDataArchive() {
        return ClassDataArchive.isMappedBy(pid());
    }

    /** Peak resident set size (VmHWM), in bytes. */
    long peakRssBytes() {
        return status("VmHWM:");
    }

    private long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.substring(field.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException e) {
            // gone
        }
        return -1;
    }

    /** SIGTERM and wait; returns milliseconds until exit. */
    long stop() throws InterruptedException {
        closeJmx();
        long start = System.nanoTime();
        process.destroy();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private void closeJmx() {
        if (jmx != null) {
            try {
                jmx.close();
            } catch (IOException e) {
                // gone
            }
            jmx = null;
        }
    }

    @Override
    public void close() {
        compilerSampler.shutdownNow();
        closeJmx();
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
