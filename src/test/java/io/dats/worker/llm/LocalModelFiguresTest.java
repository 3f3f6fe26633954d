package io.dats.worker.llm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.MaxTokensField;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import io.dats.worker.support.TinyGguf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Figures of the in-JVM provider on the generated tiny GGUF, printed, not asserted (the machine is shared):
 * tokens per second (prompt and generation) and the resident memory over repeated load/answer/close rounds.
 * {@code ./mvnw -B -o test -Dtest=LocalModelFiguresTest -Dlocal.figures=true}
 */
@EnabledIfSystemProperty(named = "local.figures", matches = "true")
class LocalModelFiguresTest {

    @TempDir
    Path dir;

    private WorkerProperties properties(Path gguf, int maxOutputTokens) {
        Tier tier = new Tier(Provider.LOCAL, null, null, null, 1, null, Duration.ofMinutes(5), 1, maxOutputTokens, 0.0,
                2048, MaxTokensField.AUTO, Map.of(), 0, Duration.ofMinutes(1), false, 0, gguf.toString());
        return TestWorkerProperties.withTier(TestWorkerProperties.defaults(), "local", tier);
    }

    @Test
    void printsTokensPerSecond() throws Exception {
        for (int layers : new int[] {1, 2}) {
            Path gguf = TinyGguf.standard().layers(layers).write(dir.resolve("tiny-" + layers + ".gguf"));
            WorkerProperties properties = properties(gguf, 512);
            try (LocalModels models = new LocalModels(properties)) {
                ChatModel model = new ChatModelFactory(List.of(), models).create("local", properties.tier("local"));
                model.chat("warm up");
                int runs = 5;
                long outputTokens = 0;
                long inputTokens = 0;
                long nanos = 0;
                for (int run = 0; run < runs; run++) {
                    long start = System.nanoTime();
                    ChatResponse response = model.chat(ChatRequest.builder()
                            .messages(UserMessage.from("Write a function number " + run + " that sorts a list")).build());
                    nanos += System.nanoTime() - start;
                    outputTokens += response.tokenUsage().outputTokenCount();
                    inputTokens += response.tokenUsage().inputTokenCount();
                }
                System.out.printf("Local model figures (%s, %d layer(s), %d bytes, %d slot): %d runs, %d prompt + %d "
                                + "generated tokens in %d ms: %.0f generated tokens/s (prompt and generation together)%n",
                        gguf.getFileName(), layers, Files.size(gguf), 1, runs, inputTokens, outputTokens,
                        nanos / 1_000_000, outputTokens / (nanos / 1e9));
            }
        }
    }

    @Test
    void printsResidentMemoryOverLoadCloseRounds() throws Exception {
        Path gguf = TinyGguf.standard().write(dir.resolve("tiny.gguf"));
        WorkerProperties properties = properties(gguf, 8);
        int rounds = 30;
        long[] rss = new long[rounds + 1];
        int[] threads = new int[rounds + 1];
        for (int round = 0; round <= rounds; round++) {
            try (LocalModels models = new LocalModels(properties)) {
                new ChatModelFactory(List.of(), models).create("local", properties.tier("local")).chat("hi");
            }
            rss[round] = residentKb();
            threads[round] = Thread.activeCount();
        }
        System.out.printf("Local model figures: RSS after load/answer/close round 1 %d kB, round 10 %d kB, round %d "
                        + "%d kB: %d kB kept per round; live threads %d, %d, %d%n", rss[1], rss[10], rounds, rss[rounds],
                (rss[rounds] - rss[10]) / (rounds - 10), threads[1], threads[10], threads[rounds]);
    }

    private static long residentKb() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/status")).stream()
                .filter(line -> line.startsWith("VmRSS:"))
                .mapToLong(line -> Long.parseLong(line.replaceAll("\\D", "")))
                .findFirst().orElseThrow();
    }
}
