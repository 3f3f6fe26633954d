package io.dats.worker.llm;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties.MaxTokensField;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The start check that says, in one line, what to configure when no tier can reach a model. */
class ModelReachabilityTest {

    private static final Duration TIMEOUT = Duration.ofMillis(500);

    @TempDir
    Path dir;

    private static int closedPort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static Tier tier(Provider provider, String baseUrl, String apiKey) {
        return TestWorkerProperties.tier(provider, baseUrl, "m", apiKey, 1, Duration.ofSeconds(5), 1);
    }

    private Map<String, Tier> nothingReachable() throws Exception {
        int port = closedPort();
        Map<String, Tier> tiers = new LinkedHashMap<>();
        tiers.put("small", tier(Provider.OLLAMA, "http://127.0.0.1:" + port, null));
        tiers.put("large", tier(Provider.OPENAI, "http://127.0.0.1:" + port + "/v1", null));
        tiers.put("frontier", tier(Provider.ANTHROPIC, "https://api.anthropic.com/v1/", null));
        return tiers;
    }

    @Test
    void saysWhatToConfigureWhenNoTierCanReachAModel() throws Exception {
        Map<String, Tier> tiers = nothingReachable();
        String port = tiers.get("small").baseUrl().getPort() + "";

        String advice = ModelReachability.advice(tiers, TIMEOUT).orElseThrow();

        assertThat(advice).doesNotContain("\n")
                .contains("small: nothing answers at http://127.0.0.1:" + port)
                .contains("large: nothing answers at http://127.0.0.1:" + port + "/v1")
                .contains("frontier: no API key")
                .contains("WORKER_LOCAL_MODEL=/path/model.gguf")
                .contains("an Ollama URL (WORKER_TIERS_SMALL_BASE_URL=http://host:11434)")
                .contains("an OpenAI-compatible URL (WORKER_TIERS_SMALL_PROVIDER=openai, WORKER_TIERS_SMALL_BASE_URL=")
                .contains("an Anthropic API key (WORKER_TIERS_FRONTIER_API_KEY)");
    }

    @Test
    void saysNothingWhenOneTierReachesAModelServer() throws Exception {
        Map<String, Tier> tiers = nothingReachable();
        try (ServerSocket server = new ServerSocket(0)) {
            tiers.put("small", tier(Provider.OLLAMA, "http://127.0.0.1:" + server.getLocalPort(), null));

            assertThat(ModelReachability.advice(tiers, TIMEOUT)).isEmpty();
            assertThat(ModelReachability.unreachable(tiers, TIMEOUT)).containsOnlyKeys("large", "frontier");
        }
    }

    @Test
    void countsAReadableGgufFileAsAReachableModel() throws Exception {
        Map<String, Tier> tiers = nothingReachable();
        Path gguf = Files.write(dir.resolve("model.gguf"), new byte[] {'G', 'G', 'U', 'F'});
        Tier local = new Tier(Provider.LOCAL, null, null, null, 1, null, Duration.ofSeconds(5), 1, 16, null, null,
                MaxTokensField.AUTO, Map.of(), 0, Duration.ofMinutes(1), false, 0, gguf.toString());
        tiers.put("tiny", local);
        assertThat(ModelReachability.advice(tiers, TIMEOUT)).isEmpty();

        Files.delete(gguf);
        assertThat(ModelReachability.unreachable(tiers, TIMEOUT)).containsEntry("tiny", "no GGUF file at " + gguf);
    }

    @Test
    void countsAnAnthropicTierWithAKeyByItsServer() throws Exception {
        Map<String, Tier> tiers = nothingReachable();
        try (ServerSocket server = new ServerSocket(0)) {
            tiers.put("frontier", tier(Provider.ANTHROPIC, "http://127.0.0.1:" + server.getLocalPort() + "/v1/", "sk"));

            assertThat(ModelReachability.advice(tiers, TIMEOUT)).isEmpty();
        }
    }
}
