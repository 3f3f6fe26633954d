package io.dats.worker.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.awaitility.core.ConditionTimeoutException;

import static org.awaitility.Awaitility.await;

/**
 * The worker's benchmark (README "Benchmark"): stand-ins alone, RabbitMQ PerfTest with the worker's queue settings,
 * then the worker from the built jar: throughput (one tier, all tiers), CPU and allocation per task, overhead latency
 * at a fixed offered load (queue and REST), throttle precision, footprint and scale-out. Prints a table and writes
 * JSON to target/bench/. {@code --smoke}: seconds and small counts, for CI; nothing is asserted anywhere.
 */
public final class Benchmark {

    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final List<String> TIERS = List.of("tiny", "small", "large", "coding", "frontier");
    /** Default concurrency of each tier (config/application.yaml): the bound the throttle check compares with. */
    static final Map<String, Integer> CONCURRENCY = Map.of("tiny", 10, "small", 5, "large", 2, "coding", 2, "frontier", 1);
    static final Map<String, String> MODELS = Map.of("tiny", "gemma3:4b", "small", "gemma3:12b",
            "large", "openai/gpt-oss-20b", "coding", "qwen3-coder:30b-a3b-q8_0-64k", "frontier", "claude-sonnet-4-20250514");

    /** What one run does; the smoke run is the same with small counts. */
    record Options(boolean smoke, int backlog, int warmup, int allTiersTasks, int offeredRate, int latencySeconds,
                   long throttleLatencyMillis, int throttleRounds, long scaleLatencyMillis, int scaleTasks,
                   int perfTestSeconds, int standInSeconds, boolean footprintRun, boolean scaleOut, Path jar,
                   Path outDir, List<String> workerJvmOptions, int warmRounds) {

        static Options parse(String... args) {
            boolean smoke = Arrays.asList(args).contains("--smoke");
            String jvm = System.getenv().getOrDefault("BENCH_WORKER_JAVA_OPTS", "");
            List<String> jvmOptions = jvm.isBlank() ? List.of() : List.of(jvm.trim().split("\\s+"));
            Path jar = Path.of(System.getProperty("bench.jar", "target/llm-task-worker.jar"));
            Path out = Path.of(System.getProperty("bench.out", "target/bench"));
            int backlog = Integer.getInteger("bench.backlog", smoke ? 150 : 3000);
            // the offered-load phases: tasks per second and for how long
            int rate = Integer.getInteger("bench.rate", smoke ? 50 : 200);
            int seconds = Integer.getInteger("bench.seconds", smoke ? 2 : 15);
            return smoke
                    ? new Options(true, backlog, Integer.getInteger("bench.warmup", 30), 100, rate, seconds, 1000, 1, 100, 50, 3, 1, false, false, jar, out, jvmOptions,
                            Integer.getInteger("bench.warmRounds", 1))
                    : new Options(false, backlog, 500, 2000, rate, seconds, 11_000, 2, 200, 600, 20, 5, true, true, jar, out,
                            jvmOptions, Integer.getInteger("bench.warmRounds", 10));
        }
    }

    private final Options options;
    private final Map<String, Object> results = new LinkedHashMap<>();
    private final List<String[]> table = new ArrayList<>();
    private final String run = Long.toString(System.currentTimeMillis() % 1_000_000, 36);
    /** Whether the workers start through {@code bin/worker} (with its class-data archive) or with {@code java -jar}. */
    private boolean throughBinWorker;

    private Benchmark(Options options) {
        this.options = options;
    }

    public static void main(String[] args) {
        try {
            Path json = run(Options.parse(args));
            System.out.println("JSON: " + json);
            System.exit(0);
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1); // the broker connection's threads would keep the JVM alive
        }
    }

    /** Runs the benchmark and returns the JSON file it wrote. */
    public static Path run(Options options) throws Exception {
        return new Benchmark(options).runAll();
    }

    private Path runAll() throws Exception {
        Files.createDirectories(options.outDir());
        results.put("mode", options.smoke() ? "smoke" : "full");
        results.put("label", System.getProperty("bench.label", ""));
        results.put("worker_directory", Path.of(System.getProperty("bench.workdir", ".")).toAbsolutePath().normalize().toString());
        results.put("started", Instant.now().toString());
        results.put("machine", machine());
        results.put("worker_java_options", options.workerJvmOptions().isEmpty()
                ? "none given: bin/worker's defaults, or the JVM's with java -jar" : options.workerJvmOptions());
        try (StandIns standIns = new StandIns()) {
            results.put("stand_ins", standInsAlone(standIns));
            results.put("perftest", perfTest());
            throughBinWorker = prepareBinWorker();
            workerRuns(standIns);
        }
        ratioToPerfTest();
        results.put("finished", Instant.now().toString());
        String stamp = Instant.now().toString().replace(':', '-');
        String label = System.getProperty("bench.label", "");
        Path json = options.outDir().resolve("bench-" + (options.smoke() ? "smoke-" : "") + (label.isEmpty() ? "" : label + "-")
                + stamp + ".json");
        MAPPER.writeValue(json.toFile(), results);
        Files.copy(json, options.outDir().resolve(options.smoke() ? "latest-smoke.json" : "latest.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        printTable();
        return json;
    }

    // ---------------------------------------------------------------- how the worker is started

    /**
     * The worker is measured as the README's run command starts it: {@code bin/worker}, from the extracted jar with a
     * class-data archive, which {@code bin/worker --archive-only} makes once per build. Not for another checkout's
     * build ({@code -Dbench.workdir}, {@code -Dbench.jar}), with {@code -Dbench.cds=false}, or with
     * {@code BENCH_JFR} (JDK 17 cannot start JFR on a dynamic archive): those run {@code java -jar}.
     */
    private boolean prepareBinWorker() throws Exception {
        String reason = null;
        if (!Boolean.parseBoolean(System.getProperty("bench.cds", "true"))) {
            reason = "-Dbench.cds=false";
        } else if (System.getenv("BENCH_JFR") != null) {
            reason = "BENCH_JFR (JFR at start and a dynamic archive crash JDK 17)";
        } else if (System.getProperty("bench.workdir") != null || System.getProperty("bench.jar") != null) {
            reason = "another build (-Dbench.workdir / -Dbench.jar)";
        }
        if (reason != null) {
            results.put("class_data_archive", "none: " + reason);
            return false;
        }
        Path log = options.outDir().resolve("class-data-archive.log");
        Process make = new ProcessBuilder("bin/worker", "--archive-only").redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!make.waitFor(5, TimeUnit.MINUTES) || make.exitValue() != 0) {
            make.destroyForcibly();
            throw new IllegalStateException("bin/worker --archive-only failed, see " + log);
        }
        results.put("class_data_archive", Path.of("target", "cds", "worker.jsa").toString());
        return true;
    }

    // ---------------------------------------------------------------- stand-ins alone

    private Map<String, Object> standInsAlone(StandIns standIns) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String llmBody = "{\"model\":\"gemma3:4b\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":"
                + "\"## Task (bench-standin-1)\\nWrite a function\"}]}";
        String ragBody = "{\"task_id\":\"bench-standin-1\",\"query\":\"Write a function\",\"domain\":\"code-general\",\"top_k\":5}";
        hammer(http, URI.create(standIns.baseUrl() + "/api/chat"), llmBody, standIns); // warm-up
        hammer(http, URI.create(standIns.ragUrl()), ragBody, standIns);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("llm", hammer(http, URI.create(standIns.baseUrl() + "/api/chat"), llmBody, standIns));
        out.put("rag", hammer(http, URI.create(standIns.ragUrl()), ragBody, standIns));
        standIns.forget();
        row("stand-ins alone (8 clients, keep-alive)", "LLM " + out("llm", out, "requests_per_s") + " req/s, RAG "
                + out("rag", out, "requests_per_s") + " req/s", "");
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Object out(String key, Map<String, Object> map, String field) {
        return ((Map<String, Object>) map.get(key)).get(field);
    }

    private Map<String, Object> hammer(HttpClient http, URI uri, String body, StandIns standIns) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        int clients = 8;
        AtomicLong done = new AtomicLong();
        long handlerBefore = standIns.handlerNanos.get();
        long cpuBefore = ownCpuNanos();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(options.standInSeconds());
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            pool.submit(() -> {
                while (System.nanoTime() < end) {
                    http.send(request, HttpResponse.BodyHandlers.discarding());
                    done.incrementAndGet();
                }
                return null;
            });
        }
        pool.shutdown();
        pool.awaitTermination(options.standInSeconds() + 30L, TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("requests", done.get());
        out.put("requests_per_s", Math.round(done.get() / seconds));
        out.put("handler_us_per_request", round((standIns.handlerNanos.get() - handlerBefore) / 1e3 / done.get(), 1));
        out.put("cpu_ms_per_request_server_and_client", round((ownCpuNanos() - cpuBefore) / 1e6 / done.get(), 3));
        out.put("load_average", loadAverage());
        return out;
    }

    // ---------------------------------------------------------------- PerfTest

    private Map<String, Object> perfTest() throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("worker_settings", perfTestRun("tiny-like", List.of("-y", "10", "-q", "1")));
        if (!options.smoke()) {
            out.put("one_consumer_prefetch_50", perfTestRun("prefetch50", List.of("-y", "1", "-q", "50")));
        }
        return out;
    }

    private Map<String, Object> perfTestRun(String name, List<String> consumerArgs) throws Exception {
        String vhost = "bench-perftest-" + run + "-" + name;
        try (BenchBroker ignored = new BenchBroker(vhost)) {
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                    "-cp", perfTestClassPath(), "com.rabbitmq.perf.PerfTest",
                    "--uri", "amqp://guest:guest@" + BenchBroker.HOST + ":" + BenchBroker.PORT + "/" + vhost,
                    "--quorum-queue", "--queue", "bench-perftest",
                    "--flag", "persistent", "--confirm", "100", "--size", "250",
                    "--producers", "1", "--time", Integer.toString(options.perfTestSeconds())));
            command.addAll(consumerArgs);
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            double received = -1;
            double sent = -1;
            Pattern receiving = Pattern.compile("receiving rate avg: (\\d+)");
            Pattern sending = Pattern.compile("sending rate avg: (\\d+)");
            StringBuilder tail = new StringBuilder();
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                    tail.append(line).append('\n');
                    Matcher r = receiving.matcher(line);
                    if (r.find()) {
                        received = Double.parseDouble(r.group(1));
                    }
                    Matcher s = sending.matcher(line);
                    if (s.find()) {
                        sent = Double.parseDouble(s.group(1));
                    }
                }
            }
            process.waitFor(60, TimeUnit.SECONDS);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("settings", "quorum queue, persistent, confirms (100 outstanding), manual ack, 250-byte messages, 1 producer, "
                    + String.join(" ", consumerArgs) + " (consumers, prefetch)");
            out.put("seconds", options.perfTestSeconds());
            out.put("consumed_msg_per_s", received);
            out.put("published_msg_per_s", sent);
            out.put("load_average", loadAverage());
            if (received < 0) {
                out.put("output_tail", tail.length() > 2000 ? tail.substring(tail.length() - 2000) : tail.toString());
            }
            row("PerfTest " + name + " (" + String.join(" ", consumerArgs) + ")", received + " msg/s consumed",
                    loadAverage());
            return out;
        }
    }

    /** PerfTest's own class path (src/test/perftest/pom.xml), resolved by Maven once and kept in target/bench/. */
    private String perfTestClassPath() throws Exception {
        Path pom = Path.of("src/test/perftest/pom.xml");
        Path file = options.outDir().resolve("perftest-classpath.txt").toAbsolutePath();
        if (!Files.exists(file) || Files.getLastModifiedTime(file).compareTo(Files.getLastModifiedTime(pom)) < 0) {
            Process maven = new ProcessBuilder(Path.of("mvnw").toAbsolutePath().toString(), "-B", "-q", "-f", pom.toString(),
                    "dependency:build-classpath", "-Dmdep.outputFile=" + file).redirectErrorStream(true).start();
            String output = new String(maven.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!maven.waitFor(5, TimeUnit.MINUTES) || maven.exitValue() != 0) {
                throw new IllegalStateException("could not resolve PerfTest's class path: " + output);
            }
        }
        return Files.readString(file).trim();
    }

    // ---------------------------------------------------------------- the worker

    private void workerRuns(StandIns standIns) throws Exception {
        Path logs = options.outDir().resolve("logs").resolve(run); // one folder per run: runs may overlap
        Files.createDirectories(logs);
        String vhost = "bench-worker-" + run;
        try (BenchBroker broker = new BenchBroker(vhost)) {
            broker.declareTopology(TIERS);
            broker.drainOutcomes();
            Map<String, Object> footprint = new LinkedHashMap<>();
            results.put("footprint", footprint);
            if (options.footprintRun()) {
                try (WorkerProcess fresh = WorkerProcess.start("fresh", options.jar(), throughBinWorker, vhost, standIns,
                        options.workerJvmOptions(), logs)) {
                    long ready = fresh.awaitReady(Duration.ofMinutes(5));
                    // idle: the worker runs 5 s with nothing to do before its footprint is read
                    await().during(Duration.ofSeconds(5)).atMost(Duration.ofSeconds(6)).until(fresh.process::isAlive);
                    footprint.put("ready_ms", ready);
                    footprint.put("idle_heap_used_mb", mb(fresh.heapUsedBytes()));
                    footprint.put("idle_heap_committed_mb", mb(fresh.heapCommittedBytes()));
                    footprint.put("idle_non_heap_used_mb", mb(fresh.nonHeapUsedBytes()));
                    footprint.put("idle_rss_mb", mb(fresh.rssBytes()));
                    footprint.put("start_cpu_s", round(fresh.cpuNanos() / 1e9, 2));
                    footprint.put("idle_stop_ms", fresh.stop());
                    footprint.put("load_average", loadAverage());
                    row("ready (GET /health 200 after the process started)", ready + " ms, " + footprint.get("start_cpu_s")
                            + " CPU-s", loadAverage());
                    row("idle heap used / RSS", footprint.get("idle_heap_used_mb") + " MB / " + footprint.get("idle_rss_mb") + " MB", "");
                    row("idle SIGTERM to exit", footprint.get("idle_stop_ms") + " ms", "");
                }
            }
            // the one-tier backlog is queued before the worker starts
            for (int n = 0; selected("one_tier") && n < options.backlog(); n++) {
                String id = taskId("tiny", n);
                broker.publish("tiny", id, task(id, null));
            }
            broker.awaitConfirms();
            try (WorkerProcess worker = WorkerProcess.start("main", options.jar(), throughBinWorker, vhost, standIns,
                    options.workerJvmOptions(), logs)) {
                // the heap is sampled every 250 ms for its peak (not connected yet or gone: that sample is skipped)
                ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(runnable -> {
                    Thread thread = new Thread(runnable, "heap-sampler");
                    thread.setDaemon(true);
                    return thread;
                });
                long ready = worker.awaitReady(Duration.ofMinutes(5));
                sampler.scheduleAtFixedRate(() -> {
                    try {
                        worker.heapUsedBytes();
                    } catch (Exception e) {
                        // not connected yet or gone
                    }
                }, 0, 250, TimeUnit.MILLISECONDS);
                footprint.put("class_data_archive_mapped", worker.mapsClassDataArchive());
                if (!options.footprintRun()) {
                    footprint.put("ready_ms_with_backlog", ready);
                    footprint.put("start_cpu_s_with_backlog", round(worker.cpuNanos() / 1e9, 2));
                    row("ready (with a backlog queued)", ready + " ms, " + footprint.get("start_cpu_s_with_backlog")
                            + " CPU-s", loadAverage());
                }
                section("one_tier", () -> saturated(worker, broker, "tiny backlog", options.backlog(), options.warmup(), 0));
                section("all_tiers", () -> allTiers(worker, broker));
                section("one_tier_warm", () -> warmOneTier(worker, broker));
                section("overhead_queue", () -> offeredLoad(worker, broker, standIns, false));
                section("overhead_rest", () -> offeredLoad(worker, broker, standIns, true));
                section("throttle", () -> throttle(worker, broker, standIns));
                section("scale_out", () -> scaleOut(worker, broker, standIns, vhost, logs));
                sampler.shutdownNow();
                footprint.put("peak_heap_used_mb", mb(worker.peakHeapBytes));
                footprint.put("peak_rss_mb", mb(worker.peakRssBytes()));
                footprint.put("rss_after_run_mb", mb(worker.rssBytes()));
                row("peak heap used / peak RSS (VmHWM)", footprint.get("peak_heap_used_mb") + " MB / "
                        + footprint.get("peak_rss_mb") + " MB", loadAverage());
                footprint.put("stop_after_run_ms", worker.stop());
            }
        }
    }

    /** Waits for the outcomes of a queued backlog; throughput, CPU and allocation over [warmup, total]. */
    private Map<String, Object> saturated(WorkerProcess worker, BenchBroker broker, String what, int total, int warmup,
                                          int already) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        awaitOutcomes(broker, already + warmup, Duration.ofMinutes(5));
        long t0 = System.nanoTime();
        int c0 = broker.outcomeCount();
        long cpu0 = worker.cpuNanos();
        long alloc0 = worker.allocatedBytes();
        long jit0 = worker.jitMillis();
        long jitCpu0 = worker.compilerCpuMillis();
        long gc0 = worker.gcMillis();
        awaitOutcomes(broker, already + total, Duration.ofMinutes(10));
        long t1 = System.nanoTime();
        int c1 = broker.outcomeCount();
        long cpu1 = worker.cpuNanos();
        long alloc1 = worker.allocatedBytes();
        long jit1 = worker.jitMillis();
        long jitCpu1 = worker.compilerCpuMillis();
        long gc1 = worker.gcMillis();
        int tasks = c1 - c0;
        double seconds = (t1 - t0) / 1e9;
        out.put("tasks", total);
        out.put("measured_after_warmup", tasks);
        out.put("failures", broker.failures.get());
        out.put("tasks_per_s", round(tasks / seconds, 1));
        out.put("cpu_ms_per_task", round((cpu1 - cpu0) / 1e6 / tasks, 3));
        out.put("cores_busy", round((cpu1 - cpu0) / 1e9 / seconds, 2));
        out.put("alloc_kb_per_task", round((alloc1 - alloc0) / 1024.0 / tasks, 1));
        // JIT compilation and GC inside the window (their CPU is in cpu_ms_per_task; a fresh JVM still compiles)
        out.put("jit_ms_in_window", jit1 - jit0); // the compilers' elapsed time (CompilationMXBean)
        out.put("jit_cpu_ms_in_window", jitCpu1 - jitCpu0); // their CPU time (/proc)
        out.put("cpu_ms_per_task_without_jit", round(((cpu1 - cpu0) / 1e6 - (jitCpu1 - jitCpu0)) / tasks, 3));
        out.put("gc_ms_in_window", gc1 - gc0);
        out.put("load_average", loadAverage());
        row("throughput, " + what, out.get("tasks_per_s") + " tasks/s", loadAverage());
        row("CPU per task after warm-up, " + what, out.get("cpu_ms_per_task") + " ms (" + out.get("cores_busy")
                + " cores; JIT compilers " + out.get("jit_cpu_ms_in_window") + " CPU-ms, GC " + out.get("gc_ms_in_window")
                + " ms in the window; without the JIT " + out.get("cpu_ms_per_task_without_jit") + " ms)", "");
        row("allocation per task, " + what, out.get("alloc_kb_per_task") + " KB", "");
        return out;
    }

    private Map<String, Object> allTiers(WorkerProcess worker, BenchBroker broker) throws Exception {
        int already = broker.outcomeCount();
        int total = options.allTiersTasks();
        int weightSum = CONCURRENCY.values().stream().mapToInt(Integer::intValue).sum();
        int n = 0;
        for (String tier : TIERS) {
            int share = total * CONCURRENCY.get(tier) / weightSum;
            for (int i = 0; i < share; i++, n++) {
                String id = taskId(tier, i);
                broker.publish(tier, id, task(id, null));
            }
        }
        broker.awaitConfirms();
        Map<String, Object> out = saturated(worker, broker, "all tiers", n, n / 10, already);
        out.put("note", "tasks split across the tiers by their concurrency; published as fast as confirms allow while the worker consumes");
        return out;
    }

    /**
     * The tiny tier again once the JVM has run thousands of tasks: the steady cost. On 2 cores the JIT compilers share
     * the CPU with a saturated worker and are still busy thousands of tasks in (several CPU-seconds in a window of
     * 3,000), so rounds of {@code backlog} tasks are run until the compilers' CPU in a round is under 5% of the process's
     * (at most {@code warmRounds}); the last round is the warm figure, every round is in the report.
     */
    private Map<String, Object> warmOneTier(WorkerProcess worker, BenchBroker broker) throws Exception {
        List<Map<String, Object>> rounds = new ArrayList<>();
        Map<String, Object> out = null;
        for (int round = 0; round < options.warmRounds(); round++) {
            int already = broker.outcomeCount();
            int total = options.backlog();
            for (int i = 0; i < total; i++) {
                String id = taskId("warm" + round, i);
                broker.publish("tiny", id, task(id, null));
            }
            broker.awaitConfirms();
            out = saturated(worker, broker, "tiny, warm JVM, round " + (round + 1), total, total / 10, already);
            rounds.add(out);
            double cpuMillis = ((Number) out.get("cpu_ms_per_task")).doubleValue() * ((Number) out.get("measured_after_warmup")).intValue();
            if (((Number) out.get("jit_cpu_ms_in_window")).doubleValue() < 0.05 * cpuMillis) {
                break;
            }
        }
        out = new LinkedHashMap<>(out);
        out.put("rounds", rounds.size());
        out.put("every_round", rounds);
        out.put("note", "after the one-tier and all-tier runs; published while the worker consumes; the last of "
                + rounds.size() + " rounds (until the JIT compilers' CPU in a round is under 5% of the process's)");
        row("CPU per task, warm JVM (last of " + rounds.size() + " rounds)", out.get("cpu_ms_per_task") + " ms (without the JIT "
                + out.get("cpu_ms_per_task_without_jit") + " ms)", "");
        return out;
    }

    /** A fixed offered load on the tiny tier (queue) or POST /api/v1/execute (REST): overhead percentiles. */
    private Map<String, Object> offeredLoad(WorkerProcess worker, BenchBroker broker, StandIns standIns, boolean rest)
            throws Exception {
        String kind = rest ? "rest" : "queue";
        int rate = options.offeredRate();
        int count = rate * options.latencySeconds();
        long intervalNanos = TimeUnit.SECONDS.toNanos(1) / rate;
        Map<String, Long> published = new ConcurrentHashMap<>();
        Map<String, Long> answered = new ConcurrentHashMap<>();
        AtomicInteger restErrors = new AtomicInteger();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .executor(Executors.newFixedThreadPool(4)).build();
        URI execute = URI.create("http://127.0.0.1:" + worker.port + "/api/v1/execute");
        List<CompletableFuture<?>> calls = new ArrayList<>();
        int already = broker.outcomeCount();
        long cpu0 = worker.cpuNanos();
        long start = System.nanoTime();
        for (int n = 0; n < count; n++) {
            long due = start + n * intervalNanos;
            long wait = due - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
            String id = taskId(kind, n);
            long now = System.nanoTime();
            published.put(id, now);
            if (rest) {
                HttpRequest request = HttpRequest.newBuilder(execute).header("Content-Type", "application/json")
                        .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(task(id, "tiny"))).build();
                calls.add(http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((response, error) -> {
                    answered.put(id, System.nanoTime());
                    if (error != null || response.statusCode() != 200) {
                        restErrors.incrementAndGet();
                    }
                }));
            } else {
                broker.publish("tiny", id, task(id, null));
            }
        }
        double offeredSeconds = (System.nanoTime() - start) / 1e9;
        if (!rest) {
            broker.awaitConfirms();
        }
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).handle((v, e) -> null).get(5, TimeUnit.MINUTES);
        // a refused REST call (429 when the tier's line is full) has no outcome event
        awaitOutcomesQuietly(broker, already + count - restErrors.get(), Duration.ofMinutes(2));
        long cpu1 = worker.cpuNanos();
        Map<String, Long> done = rest ? answered : broker.outcomes;
        List<Double> overhead = new ArrayList<>();
        List<Double> endToEnd = new ArrayList<>();
        List<Double> inside = new ArrayList<>();
        published.forEach((id, t0) -> {
            Long t1 = done.get(id);
            if (t1 != null) {
                long total = t1 - t0;
                long in = standIns.insideNanos(id);
                endToEnd.add(total / 1e6);
                inside.add(in / 1e6);
                overhead.add((total - in) / 1e6);
            }
        });
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("offered_per_s", rate);
        out.put("achieved_offered_per_s", round(count / offeredSeconds, 1));
        out.put("tasks", count);
        out.put("answered", overhead.size());
        if (rest) {
            out.put("rest_errors", restErrors.get());
        }
        out.put("overhead_ms", percentiles(overhead));
        out.put("end_to_end_ms", percentiles(endToEnd));
        out.put("inside_stand_ins_ms", percentiles(inside));
        out.put("cpu_ms_per_task", round((cpu1 - cpu0) / 1e6 / count, 3));
        out.put("load_average", loadAverage());
        Map<String, Object> p = percentiles(overhead);
        row("overhead at " + rate + "/s, " + (rest ? "REST POST /api/v1/execute" : "queue (publish to output)"),
                "p50 " + p.get("p50") + " / p95 " + p.get("p95") + " / p99 " + p.get("p99") + " / max " + p.get("max") + " ms",
                loadAverage());
        standIns.forget();
        return out;
    }

    /** Every tier at once, each call held by the LLM for the throttle latency: the most in flight per model vs the bound. */
    private Map<String, Object> throttle(WorkerProcess worker, BenchBroker broker, StandIns standIns) throws Exception {
        standIns.llmLatencyMillis(options.throttleLatencyMillis());
        standIns.resetMaxima();
        int already = broker.outcomeCount();
        int total = 0;
        for (String tier : TIERS) {
            int tasks = CONCURRENCY.get(tier) * options.throttleRounds() + 1;
            for (int i = 0; i < tasks; i++, total++) {
                String id = taskId("throttle-" + tier, i);
                broker.publish(tier, id, task(id, null));
            }
        }
        broker.awaitConfirms();
        // REST callers share the tiny tier's bound with its queue consumers
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        URI execute = URI.create("http://127.0.0.1:" + worker.port + "/api/v1/execute");
        List<CompletableFuture<?>> calls = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            String id = taskId("throttle-rest", i);
            calls.add(http.sendAsync(HttpRequest.newBuilder(execute).header("Content-Type", "application/json")
                    .timeout(Duration.ofMinutes(5)).POST(HttpRequest.BodyPublishers.ofString(task(id, "tiny"))).build(),
                    HttpResponse.BodyHandlers.discarding()));
            total++;
        }
        awaitOutcomes(broker, already + total, Duration.ofMinutes(5));
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).handle((v, e) -> null).get(1, TimeUnit.MINUTES);
        standIns.llmLatencyMillis(0);
        Map<String, Integer> seen = standIns.maxInFlight();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("llm_latency_ms", options.throttleLatencyMillis());
        Map<String, Object> tiers = new LinkedHashMap<>();
        StringBuilder summary = new StringBuilder();
        for (String tier : TIERS) {
            int max = seen.getOrDefault(MODELS.get(tier), 0);
            tiers.put(tier, Map.of("bound", CONCURRENCY.get(tier), "max_in_flight", max));
            summary.append(tier).append(' ').append(max).append('/').append(CONCURRENCY.get(tier)).append("  ");
        }
        out.put("tiers", tiers);
        out.put("load_average", loadAverage());
        row("throttle at LLM latency " + options.throttleLatencyMillis() + " ms (max in flight / bound)",
                summary.toString().trim(), loadAverage());
        return out;
    }

    private Map<String, Object> scaleOut(WorkerProcess first, BenchBroker broker, StandIns standIns, String vhost,
                                         Path logs) throws Exception {
        Map<String, Object> out = new LinkedHashMap<>();
        if (!options.scaleOut()) {
            out.put("skipped", "smoke mode");
            return out;
        }
        standIns.llmLatencyMillis(options.scaleLatencyMillis());
        out.put("llm_latency_ms", options.scaleLatencyMillis());
        out.put("one_process_tasks_per_s", backlogRate(broker, "scale1", options.scaleTasks()));
        try (WorkerProcess second = WorkerProcess.start("second", options.jar(), throughBinWorker, vhost, standIns,
                options.workerJvmOptions(), logs)) {
            out.put("second_ready_ms", second.awaitReady(Duration.ofMinutes(5)));
            out.put("two_processes_tasks_per_s", backlogRate(broker, "scale2", options.scaleTasks() * 2));
            out.put("second_peak_rss_mb", mb(second.peakRssBytes()));
            second.stop();
        }
        standIns.llmLatencyMillis(0);
        double one = (Double) out.get("one_process_tasks_per_s");
        double two = (Double) out.get("two_processes_tasks_per_s");
        out.put("ratio", round(two / one, 2));
        out.put("load_average", loadAverage());
        row("scale-out at LLM latency " + options.scaleLatencyMillis() + " ms, tiny tier", one + " tasks/s one process, "
                + two + " two (x" + out.get("ratio") + ")", loadAverage());
        return out;
    }

    /** Queues a backlog on the tiny tier and returns the outcome rate between 10% and 90% of it. */
    private double backlogRate(BenchBroker broker, String prefix, int tasks) throws Exception {
        int already = broker.outcomeCount();
        for (int i = 0; i < tasks; i++) {
            String id = taskId(prefix, i);
            broker.publish("tiny", id, task(id, null));
        }
        broker.awaitConfirms();
        awaitOutcomes(broker, already + tasks / 10, Duration.ofMinutes(5));
        long t0 = System.nanoTime();
        awaitOutcomes(broker, already + tasks * 9 / 10, Duration.ofMinutes(5));
        double seconds = (System.nanoTime() - t0) / 1e9;
        double rate = round((tasks * 8 / 10) / seconds, 1);
        awaitOutcomes(broker, already + tasks, Duration.ofMinutes(5));
        return rate;
    }

    @SuppressWarnings("unchecked")
    private void ratioToPerfTest() {
        Map<String, Object> perf = (Map<String, Object>) ((Map<String, Object>) results.get("perftest")).get("worker_settings");
        Map<String, Object> oneTier = (Map<String, Object>) results.get("one_tier");
        Map<String, Object> allTiers = (Map<String, Object>) results.get("all_tiers");
        double consumed = ((Number) perf.get("consumed_msg_per_s")).doubleValue();
        if (consumed <= 0 || oneTier == null || allTiers == null || !oneTier.containsKey("tasks_per_s")
                || !allTiers.containsKey("tasks_per_s")) {
            return;
        }
        Map<String, Object> ratio = new LinkedHashMap<>();
        ratio.put("one_tier", round(((Number) oneTier.get("tasks_per_s")).doubleValue() / consumed, 3));
        ratio.put("all_tiers", round(((Number) allTiers.get("tasks_per_s")).doubleValue() / consumed, 3));
        Map<String, Object> warm = (Map<String, Object>) results.get("one_tier_warm");
        if (warm != null && warm.containsKey("tasks_per_s")) {
            ratio.put("one_tier_warm", round(((Number) warm.get("tasks_per_s")).doubleValue() / consumed, 3));
        }
        results.put("ratio_to_perftest", ratio);
        row("throughput / PerfTest consumed (worker settings)", "one tier " + ratio.get("one_tier") + " (warm JVM, last round "
                + ratio.get("one_tier_warm") + "), all tiers " + ratio.get("all_tiers"), "");
    }

    // ---------------------------------------------------------------- helpers

    private static void awaitOutcomes(BenchBroker broker, int count, Duration timeout) {
        try {
            await().atMost(timeout).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2))
                    .until(() -> broker.outcomeCount() >= count);
        } catch (ConditionTimeoutException e) {
            throw new IllegalStateException("only " + broker.outcomeCount() + " of " + count + " outcomes within " + timeout);
        }
    }

    private static void awaitOutcomesQuietly(BenchBroker broker, int count, Duration timeout) throws InterruptedException {
        try {
            awaitOutcomes(broker, count, timeout);
        } catch (IllegalStateException e) {
            System.out.println("[bench] " + e.getMessage());
        }
    }

    /** Runs one section; a failed section is reported in the JSON and the table, and the run goes on. */
    /**
     * Whether a section runs: all of them, or those listed in {@code -Dbench.only} (comma-separated section names as in
     * the JSON, e.g. {@code overhead_rest}), to iterate on one figure; the others are left out of the report.
     */
    private static boolean selected(String name) {
        String only = System.getProperty("bench.only", "");
        return only.isBlank() || Arrays.asList(only.split("\\s*,\\s*")).contains(name);
    }

    private void section(String name, Callable<Map<String, Object>> body) {
        if (!selected(name)) {
            return;
        }
        try {
            results.put(name, body.call());
        } catch (Exception e) {
            results.put(name, Map.of("error", String.valueOf(e)));
            row(name + " FAILED", String.valueOf(e.getMessage()), loadAverage());
        }
    }

    private String taskId(String what, int n) {
        return "bench-" + run + "-" + what + "-" + n;
    }

    private static String task(String id, String tier) {
        Map<String, Object> task = new LinkedHashMap<>();
        task.put("task_id", id);
        task.put("domain", "code-general");
        task.put("description", "Write a Python function fib(n) that returns the n-th Fibonacci number.");
        if (tier != null) {
            task.put("tier", tier);
        }
        try {
            return MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(task);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Map<String, Object> percentiles(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Double::compare);
        Map<String, Object> out = new LinkedHashMap<>();
        if (sorted.isEmpty()) {
            return out;
        }
        out.put("p50", round(at(sorted, 0.50), 2));
        out.put("p95", round(at(sorted, 0.95), 2));
        out.put("p99", round(at(sorted, 0.99), 2));
        out.put("max", round(sorted.get(sorted.size() - 1), 2));
        return out;
    }

    private static double at(List<Double> sorted, double q) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(q * sorted.size()) - 1));
    }

    private static Map<String, Object> machine() throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("nproc", Runtime.getRuntime().availableProcessors());
        String model = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
        out.put("cpu", model);
        out.put("memory_mb", Files.readAllLines(Path.of("/proc/meminfo")).get(0).replaceAll("\\D", "").transform(kb -> Long.parseLong(kb) / 1024));
        out.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        out.put("load_average_at_start", loadAverage());
        return out;
    }

    static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException e) {
            return "?";
        }
    }

    private static long ownCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static long mb(long bytes) {
        return bytes < 0 ? -1 : bytes / (1024 * 1024);
    }

    private static double round(double value, int digits) {
        double scale = Math.pow(10, digits);
        return Math.round(value * scale) / scale;
    }

    private void row(String figure, String value, String load) {
        table.add(new String[] {figure, value, load});
        System.out.printf("[bench] %-62s %s%s%n", figure, value, load.isEmpty() ? "" : "   (load " + load + ")");
    }

    private void printTable() {
        System.out.println();
        System.out.println("Benchmark (" + results.get("mode") + "), " + Runtime.getRuntime().availableProcessors()
                + " cores, " + ((Map<?, ?>) results.get("machine")).get("cpu"));
        System.out.printf("%-66s | %-60s | %s%n", "figure", "value", "load average");
        System.out.println("-".repeat(66) + "-+-" + "-".repeat(60) + "-+-" + "-".repeat(16));
        for (String[] r : table) {
            System.out.printf("%-66s | %-60s | %s%n", r[0], r[1], r[2]);
        }
    }

}
