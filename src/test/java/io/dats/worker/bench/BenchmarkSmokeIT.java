package io.dats.worker.bench;

import java.nio.file.Files;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * CI's run of the benchmark (README "Benchmark"): the whole harness in smoke mode (seconds, small counts) against the
 * machine's RabbitMQ and the jar {@code package} built. No figure is asserted (a benchmark on a shared machine is a
 * report, not a test); only that the run completed and wrote its JSON report.
 */
class BenchmarkSmokeIT {

    @Test
    void smokeRunWritesItsReport() throws Exception {
        Path json = Benchmark.run(Benchmark.Options.parse("--smoke"));

        assertThat(json).exists();
        JsonNode report = new ObjectMapper().readTree(Files.readString(json));
        assertThat(report.path("mode").asText()).isEqualTo("smoke");
        assertThat(report.has("one_tier")).isTrue();
        // measured as the README's run command starts the worker: bin/worker, with the class-data archive it made
        assertThat(report.path("class_data_archive").asText()).isEqualTo("target/cds/worker.jsa");
        assertThat(report.path("footprint").path("class_data_archive_mapped").asBoolean()).isTrue();
    }
}
