package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.springframework.util.unit.DataSize;

/** A small corpus of project documents written into a folder, and properties for tests. */
public final class Fixtures {

    public static final String RETRY_SECTION = """
            ## Retry policy

            When a call to the language model fails with a timeout or a server error, the worker retries it with
            exponential backoff: the first retry waits one second, every further retry doubles the wait, up to thirty
            seconds. After the tier's max-attempts the task is published as task.failed.
            """;

    public static final String GUIDE = """
            # Operations guide

            ## Installing

            Install Java 17 and run the Maven wrapper to build the jar. The worker reads its configuration from
            config/application.yaml in the working directory.

            """ + RETRY_SECTION + """

            ## Dashboards

            Hawtio shows the Camel routes, their diagrams and JMX attributes under /actuator/hawtio. Metrics are
            exported at /actuator/metrics and grouped by tier.
            """;

    public static final String ALPHA = """
            # Alpha telemetry

            The alpha firmware samples the accelerometer at 800 Hz and keeps the telemetry in a ring buffer of 4096
            samples in SRAM; the buffer is drained over SPI by the radio task every 50 milliseconds.
            """;

    public static final String BETA = """
            # Beta telemetry

            The beta gateway stores telemetry in a ring buffer on the SD card, rotated daily, and uploads the buffer
            over MQTT to the fleet server when the cellular link is up.
            """;

    public static final String FIBONACCI = """
            /** Iterative Fibonacci numbers, no recursion, overflow checked. */
            public final class Fibonacci {
                public static long nth(int n) {
                    long a = 0, b = 1;
                    for (int i = 0; i < n; i++) {
                        long next = Math.addExact(a, b);
                        a = b;
                        b = next;
                    }
                    return a;
                }
            }
            """;

    private Fixtures() {
    }

    /** guide.md (shared), src/Fibonacci.java (shared), projects/alpha and projects/beta with a rag.properties each. */
    public static Path corpus(Path dir) throws IOException {
        write(dir.resolve("guide.md"), GUIDE);
        write(dir.resolve("src/Fibonacci.java"), FIBONACCI);
        write(dir.resolve("projects/alpha/rag.properties"), "project_id=alpha\ndomain=code-embedded\n");
        write(dir.resolve("projects/alpha/telemetry.md"), ALPHA);
        write(dir.resolve("projects/beta/rag.properties"), "project_id=beta\n");
        write(dir.resolve("projects/beta/telemetry.md"), BETA);
        write(dir.resolve(".git/ignored.md"), "hidden folders are not indexed");
        write(dir.resolve("image.png"), "not a listed extension");
        return dir;
    }

    public static void write(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, text);
    }

    static EmbeddedRagProperties properties(EmbeddedRagProperties.StoreType store, Path dataDir) {
        return new EmbeddedRagProperties(Path.of("docs"), true, store, dataDir, 400, 40, DataSize.ofMegabytes(1), 20,
                0.0, List.of("md", "txt", "java", "py", "properties"));
    }
}
