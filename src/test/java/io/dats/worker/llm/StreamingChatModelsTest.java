package io.dats.worker.llm;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties.MaxTokensField;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import io.dats.worker.support.FakeLlmServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

/** The streaming model of a tier speaks the tier's provider with the tier's settings and gateway headers. */
class StreamingChatModelsTest {

    static final FakeLlmServer LLM = new FakeLlmServer().start();

    @AfterAll
    static void stop() {
        LLM.close();
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void streamsWithTheTiersModelLimitAndGatewayHeaders(Provider provider) throws Exception {
        String baseUrl = switch (provider) {
            case OLLAMA -> LLM.ollamaBaseUrl();
            case OPENAI -> LLM.openAiBaseUrl();
            case ANTHROPIC -> LLM.anthropicBaseUrl();
            case LOCAL -> throw new IllegalArgumentException("no HTTP server");
        };
        Tier tier = TestWorkerProperties.withSettings(
                TestWorkerProperties.tier(provider, baseUrl, "model-" + provider, "key", 1, Duration.ofSeconds(10), 1),
                0.3, 321, 2048, MaxTokensField.AUTO, Map.of("X-Gateway-Route", "route-7"), false);
        LLM.respondWith(call -> FakeLlmServer.Reply.text("streamed answer here").withUsage(2, 3));
        StreamingChatModel model = StreamingChatModels.create("t", tier, java.util.List.of());

        StringBuilder partials = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(ChatRequest.builder().messages(UserMessage.from("hi")).build(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                partials.append(partialResponse);
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
        ChatResponse response = done.get(10, TimeUnit.SECONDS);
        assertThat(partials.toString()).isEqualTo("streamed answer here");
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(3);
        FakeLlmServer.LlmCall call = LLM.calls().get(LLM.calls().size() - 1);
        assertThat(call.streaming()).isTrue();
        assertThat(call.model()).isEqualTo("model-" + provider);
        assertThat(call.header("X-Gateway-Route")).isEqualTo("route-7");
        int limit = switch (provider) {
            case OLLAMA -> call.request().path("options").path("num_predict").asInt();
            case OPENAI, ANTHROPIC -> call.request().path("max_tokens").asInt();
            case LOCAL -> throw new IllegalArgumentException("no HTTP call");
        };
        assertThat(limit).isEqualTo(321);
    }
}
