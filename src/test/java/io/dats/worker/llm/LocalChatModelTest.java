package io.dats.worker.llm;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.listener.ChatModelResponseContext;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.MaxTokensField;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import io.dats.worker.support.TinyGguf;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * The in-JVM provider ({@code provider: local}) on a tiny GGUF with random weights written by {@link TinyGguf}:
 * llama.cpp loads it, applies its chat template, answers with exactly the requested number of tokens (the generated
 * model never ends a turn by itself), streams token by token, reports token usage, serves concurrent calls in their
 * own sequences and releases the model when closed.
 */
class LocalChatModelTest {

    @TempDir
    static Path dir;

    static Path gguf;
    static LocalModels models;
    static final List<ChatResponse> HEARD = new CopyOnWriteArrayList<>();
    static final ChatModelListener LISTENER = new ChatModelListener() {
        @Override
        public void onResponse(ChatModelResponseContext context) {
            HEARD.add(context.chatResponse());
        }
    };

    @BeforeAll
    static void writeModel() throws Exception {
        gguf = TinyGguf.standard().write(dir.resolve("tiny-random-llama.gguf"));
        models = new LocalModels(properties(Map.of("local", localTier(2, 16, 0.0, Duration.ofSeconds(30)))));
    }

    @AfterAll
    static void close() {
        models.close();
    }

    static Tier localTier(int concurrency, int maxOutputTokens, Double temperature, Duration timeout) {
        Tier base = TestWorkerProperties.tier(Provider.OLLAMA, "http://unused", "unused", null, concurrency, timeout, 1);
        return new Tier(Provider.LOCAL, null, null, null, concurrency, null, timeout, 1, maxOutputTokens, temperature,
                512, MaxTokensField.AUTO, Map.of(), 0, base.ratePeriod(), false, 0, gguf.toString());
    }

    static WorkerProperties properties(Map<String, Tier> tiers) {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        WorkerProperties properties = defaults;
        for (Map.Entry<String, Tier> tier : tiers.entrySet()) {
            properties = TestWorkerProperties.withTier(properties, tier.getKey(), tier.getValue());
        }
        return properties;
    }

    private static ChatModel chatModel(Tier tier) {
        return new ChatModelFactory(List.of(LISTENER), models).create("local", tier);
    }

    private static ChatRequest request(String prompt, Integer maxTokens) {
        ChatRequest.Builder builder = ChatRequest.builder()
                .messages(SystemMessage.from("You write Python."), UserMessage.from(prompt));
        if (maxTokens != null) {
            builder.parameters(ChatRequestParameters.builder().maxOutputTokens(maxTokens).build());
        }
        return builder.build();
    }

    @Test
    void namesTheFileAsModelAndAddressOfALocalTier() {
        Tier tier = localTier(1, 16, null, Duration.ofSeconds(5));

        assertThat(tier.model()).isEqualTo("tiny-random-llama.gguf");
        assertThat(tier.baseUrl()).isEqualTo(gguf.toAbsolutePath().toUri());
        assertThat(ChatModelFactory.describe("local", tier)).contains("local model 'tiny-random-llama.gguf' at " + gguf)
                .contains("n_predict 16").contains("context-window 512 per call");
    }

    @Test
    void loadsTheGgufAndAppliesItsChatTemplate() {
        LocalLlama llama = models.of("local", localTier(2, 16, 0.0, Duration.ofSeconds(30)));

        String prompt = llama.prompt(request("Write hello world", null).messages());

        assertThat(prompt).isEqualTo("<|im_start|>system\nYou write Python.<|im_end|>\n"
                + "<|im_start|>user\nWrite hello world<|im_end|>\n<|im_start|>assistant\n");
        assertThat(llama.slots()).isEqualTo(2);
        assertThat(llama.contextPerCall()).isEqualTo(512);
    }

    @Test
    void answersWithTheTiersMaxOutputTokensAndReportsTokenUsage() {
        HEARD.clear();
        ChatResponse response = chatModel(localTier(2, 16, 0.0, Duration.ofSeconds(30)))
                .chat(request("Write hello world", null));

        assertThat(response.aiMessage().text()).isNotBlank();
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(16);
        assertThat(response.tokenUsage().inputTokenCount()).isGreaterThan(10);
        assertThat(response.tokenUsage().totalTokenCount())
                .isEqualTo(response.tokenUsage().inputTokenCount() + 16);
        assertThat(response.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(response.modelName()).isEqualTo("tiny-random-llama.gguf");
        assertThat(HEARD).singleElement().satisfies(heard ->
                assertThat(heard.tokenUsage()).isEqualTo(response.tokenUsage()));
    }

    @Test
    void completesExactlyTheRequestedNumberOfTokens() {
        ChatModel model = chatModel(localTier(2, 16, 0.0, Duration.ofSeconds(30)));

        for (int tokens : new int[] {1, 5, 40}) {
            ChatResponse response = model.chat(request("Count to three", tokens));

            assertThat(response.tokenUsage().outputTokenCount()).as("max tokens %d", tokens).isEqualTo(tokens);
            assertThat(response.aiMessage().text()).isNotBlank();
        }
    }

    @Test
    void answersTheSameAtTemperatureZero() {
        ChatModel model = chatModel(localTier(2, 24, 0.0, Duration.ofSeconds(30)));

        String first = model.chat(request("Sort a list", null)).aiMessage().text();
        String second = model.chat(request("Sort a list", null)).aiMessage().text();

        assertThat(second).isEqualTo(first);
    }

    @Test
    void streamsTheAnswerTokenByToken() throws Exception {
        Tier tier = localTier(2, 20, 0.0, Duration.ofSeconds(30));
        StreamingChatModel model = StreamingChatModels.create("local", tier, List.of(), models);
        List<String> tokens = new CopyOnWriteArrayList<>();
        List<String> threads = new CopyOnWriteArrayList<>();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();

        model.chat(request("Write hello world", null), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                tokens.add(partialResponse);
                threads.add(Thread.currentThread().getName());
            }

            @Override
            public void onCompleteResponse(ChatResponse completeResponse) {
                done.complete(completeResponse);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse response = done.get(30, TimeUnit.SECONDS);

        assertThat(tokens).hasSize(20).allSatisfy(token -> assertThat(token).isNotEmpty());
        assertThat(String.join("", tokens)).isEqualTo(response.aiMessage().text());
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(20);
        // produced on the local models' own thread: the caller reads the stream while it is written
        assertThat(threads).allSatisfy(name -> assertThat(name).startsWith("local-llm-stream-"));
        // the same text as the blocking model's answer
        assertThat(chatModel(tier).chat(request("Write hello world", null)).aiMessage().text())
                .isEqualTo(response.aiMessage().text());
    }

    @Test
    void servesConcurrentCallsEachInItsOwnSequence() throws Exception {
        ChatModel model = chatModel(localTier(2, 24, 0.0, Duration.ofSeconds(60)));
        String alone = model.chat(request("Parse a file", null)).aiMessage().text();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                // 4 calls on 2 slots: two wait in llama.cpp's queue, none mixes with another
                answers.add(pool.submit(() -> model.chat(request("Parse a file", null)).aiMessage().text()));
            }
            for (Future<String> answer : answers) {
                assertThat(answer.get(60, TimeUnit.SECONDS)).isEqualTo(alone);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void failsWithATimeoutWhenTheAnswerTakesLongerThanTheTiersTimeout() {
        ChatModel model = chatModel(localTier(2, 2000, 0.0, Duration.ofMillis(1)));

        Throwable failure = catchThrowable(() -> model.chat(request("Write a long story", null)));

        assertThat(failure).isInstanceOf(TimeoutException.class).hasMessageContaining("tiny-random-llama.gguf");
        assertThat(LlmFailures.isTimeout(failure)).isTrue();
        // the sequence was freed: the next call runs
        assertThat(chatModel(localTier(2, 4, 0.0, Duration.ofSeconds(30))).chat(request("again", null))
                .tokenUsage().outputTokenCount()).isEqualTo(4);
    }

    @Test
    void failsTheTiersCallsWithTheSettingWhenTheGgufFileIsMissing() {
        Tier base = localTier(1, 8, 0.0, Duration.ofSeconds(5));
        Tier missing = new Tier(Provider.LOCAL, null, null, null, 1, null, base.timeout(), 1, 8, null, null,
                MaxTokensField.AUTO, Map.of(), 0, base.ratePeriod(), false, 0, dir.resolve("nope.gguf").toString());

        Throwable failure = catchThrowable(() -> new ChatModelFactory(List.of(), models).create("small", missing)
                .chat("hi"));

        assertThat(failure).isInstanceOf(ModelNotFoundException.class).hasMessageContaining("nope.gguf")
                .hasMessageContaining("worker.tiers.small.model-path (environment variable WORKER_TIERS_SMALL_MODEL_PATH)")
                .hasMessageContaining("WORKER_LOCAL_MODEL");
        assertThat(LlmFailures.isTransient(failure)).isFalse();
    }

    @Test
    void oneSettingRunsEveryTierOnTheLocalModel() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        WorkerProperties local = new WorkerProperties(new LinkedHashMap<>(defaults.tiers()), defaults.domains(),
                defaults.rag(), defaults.broker(), defaults.retry(), defaults.images(), defaults.templateDir(),
                defaults.api(), new WorkerProperties.Local(gguf.toString(), 1024, 4, 0));

        assertThat(local.tiers()).hasSameSizeAs(defaults.tiers()).allSatisfy((name, tier) -> {
            assertThat(tier.provider()).isEqualTo(Provider.LOCAL);
            assertThat(tier.modelPath()).isEqualTo(gguf.toString());
            assertThat(tier.model()).isEqualTo("tiny-random-llama.gguf");
            assertThat(tier.contextWindow()).isEqualTo(1024);
            assertThat(tier.concurrency()).isEqualTo(defaults.tier(name).concurrency());
            assertThat(tier.timeout()).isEqualTo(defaults.tier(name).timeout());
            assertThat(tier.maxOutputTokens()).isEqualTo(defaults.tier(name).maxOutputTokens());
        });
    }

    @Test
    void refusesALocalTierWithoutAGgufFile() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        Tier base = localTier(1, 8, null, Duration.ofSeconds(5));
        Tier noFile = new Tier(Provider.LOCAL, URI.create("file:/x"), "x", null, 1, null, base.timeout(), 1, 8, null,
                null, MaxTokensField.AUTO, Map.of(), 0, base.ratePeriod(), false, 0, " ");

        Throwable failure = catchThrowable(() -> TestWorkerProperties.withTier(defaults, "tiny", noFile));

        assertThat(failure).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("WORKER_TIERS_TINY_MODEL_PATH").hasMessageContaining("WORKER_LOCAL_MODEL");
    }

    @Test
    void loadsAFileOnceForAllItsTiersAndRefusesCallsOnceClosed() {
        WorkerProperties properties = properties(Map.of(
                "one", localTier(1, 4, 0.0, Duration.ofSeconds(30)),
                "two", localTier(2, 4, 0.0, Duration.ofSeconds(30))));
        LocalModels own = new LocalModels(properties);
        ChatModel one = new ChatModelFactory(List.of(), own).create("one", properties.tier("one"));
        ChatModel two = new ChatModelFactory(List.of(), own).create("two", properties.tier("two"));
        assertThat(one.chat(request("hi", null)).tokenUsage().outputTokenCount()).isEqualTo(4);
        assertThat(two.chat(request("hi", null)).tokenUsage().outputTokenCount()).isEqualTo(4);
        LocalLlama shared = own.of("one", properties.tier("one"));

        assertThat(own.of("two", properties.tier("two"))).isSameAs(shared);
        // one sequence per call the two tiers may run at once (1 + 2)
        assertThat(shared.slots()).isEqualTo(3);

        own.close();
        own.close();

        assertThat(catchThrowable(() -> shared.generate(request("hi", null).messages(), 4, 0.0, Duration.ofSeconds(5),
                token -> { }))).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }
}
