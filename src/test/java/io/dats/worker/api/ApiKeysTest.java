package io.dats.worker.api;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ApiKeysTest {

    @TempDir
    Path dir;

    private static WorkerProperties withApi(WorkerProperties.Api api) {
        WorkerProperties d = TestWorkerProperties.defaults();
        return new WorkerProperties(d.tiers(), d.domains(), d.rag(), d.broker(), d.retry(), d.images(), d.templateDir(), api);
    }

    private static Exchange restTask(String key, String tier) {
        Exchange exchange = new DefaultExchange(new DefaultCamelContext());
        exchange.setVariable(TaskVariables.SOURCE, "rest");
        exchange.setVariable(TaskVariables.TIER, tier);
        if (key != null) {
            exchange.getMessage().setHeader(ApiKeys.HEADER, key);
        }
        return exchange;
    }

    @Test
    void noKeysConfiguredMeansOpen() {
        ApiKeys keys = new ApiKeys(TestWorkerProperties.defaults());
        assertThat(keys.enabled()).isFalse();
        assertThat(keys.known(null)).isTrue();
        keys.authorize(restTask(null, "frontier"));
    }

    @Test
    void keysFromAFileAndFromPropertiesDecide401And403() throws Exception {
        Path file = dir.resolve("keys");
        Files.writeString(file, "# comment\n\nfile-key: tiny, small\nall-key: *\n");
        ApiKeys keys = new ApiKeys(withApi(new WorkerProperties.Api(null, null, file.toString(),
                Map.of("ci", new WorkerProperties.ApiKey("prop-key", List.of("large"))), 32)));
        assertThat(keys.enabled()).isTrue();
        assertThat(keys.known("file-key")).isTrue();
        assertThat(keys.known("prop-key")).isTrue();
        assertThat(keys.known("nope")).isFalse();
        assertThat(keys.known(null)).isFalse();

        keys.authorize(restTask("file-key", "small"));
        keys.authorize(restTask("all-key", "frontier"));
        keys.authorize(restTask("prop-key", "large"));
        assertThatThrownBy(() -> keys.authorize(restTask("file-key", "frontier")))
                .isInstanceOfSatisfying(ApiAccessException.class, e -> assertThat(e.status()).isEqualTo(403));
        assertThatThrownBy(() -> keys.authorize(restTask(null, "tiny")))
                .isInstanceOfSatisfying(ApiAccessException.class, e -> assertThat(e.status()).isEqualTo(401));
        assertThatThrownBy(() -> keys.authorize(restTask("wrong", "tiny")))
                .isInstanceOfSatisfying(ApiAccessException.class, e -> assertThat(e.status()).isEqualTo(401));
    }

    @Test
    void aKeyForAnUnknownTierFailsTheStart() throws Exception {
        Path file = dir.resolve("keys");
        Files.writeString(file, "k: gigantic\n");
        assertThatThrownBy(() -> new ApiKeys(withApi(new WorkerProperties.Api(null, null, file.toString(), null, 32))))
                .hasMessageContaining("unknown tier 'gigantic'");
    }
}
