package io.dats.worker.support;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.InternalServerException;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.model.anthropic.AnthropicChatModel;
import dev.langchain4j.model.anthropic.AnthropicStreamingChatModel;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.ollama.OllamaChatModel;
import dev.langchain4j.model.ollama.OllamaModel;
import dev.langchain4j.model.ollama.OllamaModels;
import dev.langchain4j.model.ollama.OllamaStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import io.dats.worker.support.FakeLlmServer.LlmCall;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Proves FakeLlmServer is wire-compatible with the real LangChain4j OpenAI, Ollama and Anthropic clients. */
class FakeLlmServerTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final HttpClient http = HttpClient.newHttpClient();
    private FakeLlmServer server;

    /** The three wire formats, each with factories for the real LangChain4j clients pointed at the fake. */
    enum Provider {
        OPENAI("gpt-4o-mini"), OLLAMA("llama3.2:1b"), ANTHROPIC("claude-3-5-haiku-latest");

        final String model;

        Provider(String model) {
            this.model = model;
        }

        ChatModel chatModel(FakeLlmServer server, Duration timeout) {
            return switch (this) {
                case OPENAI -> OpenAiChatModel.builder().baseUrl(server.openAiBaseUrl()).apiKey("sk-test")
                        .modelName(model).timeout(timeout).maxRetries(0).build();
                case OLLAMA -> OllamaChatModel.builder().baseUrl(server.ollamaBaseUrl())
                        .modelName(model).timeout(timeout).maxRetries(0).build();
                case ANTHROPIC -> AnthropicChatModel.builder().baseUrl(server.anthropicBaseUrl()).apiKey("sk-ant-test")
                        .modelName(model).maxTokens(1024).timeout(timeout).maxRetries(0).build();
            };
        }

        StreamingChatModel streamingModel(FakeLlmServer server, Duration timeout) {
            return switch (this) {
                case OPENAI -> OpenAiStreamingChatModel.builder().baseUrl(server.openAiBaseUrl()).apiKey("sk-test")
                        .modelName(model).timeout(timeout).build();
                case OLLAMA -> OllamaStreamingChatModel.builder().baseUrl(server.ollamaBaseUrl())
                        .modelName(model).timeout(timeout).build();
                case ANTHROPIC -> AnthropicStreamingChatModel.builder().baseUrl(server.anthropicBaseUrl())
                        .apiKey("sk-ant-test").modelName(model).maxTokens(1024).timeout(timeout).build();
            };
        }
    }

    /** Partial responses concatenated in arrival order, and the final response. */
    record Streamed(String partials, ChatResponse response) {
    }

    @BeforeEach
    void startServer() {
        server = new FakeLlmServer().start();
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void syncReplyCarriesTextAndProgrammedUsage(Provider provider) {
        server.respondWith(call -> Reply.text("Hello from " + call.provider()).withUsage(11, 7));

        ChatResponse response = provider.chatModel(server, TIMEOUT)
                .chat(SystemMessage.from("be brief"), UserMessage.from("write hello world"));

        assertThat(response.aiMessage().text()).isEqualTo("Hello from " + provider.name().toLowerCase());
        assertThat(response.tokenUsage().inputTokenCount()).isEqualTo(11);
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(7);
        assertThat(server.requestCount(provider.model)).isEqualTo(1);
        LlmCall call = server.calls().get(0);
        assertThat(call.provider()).isEqualTo(provider.name().toLowerCase());
        assertThat(call.model()).isEqualTo(provider.model);
        assertThat(call.prompt()).isEqualTo("write hello world");
        assertThat(call.streaming()).isFalse();
        assertThat(call.request().path("messages").isArray()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void defaultReplyHasCodeBlockAndWordCountUsage(Provider provider) {
        ChatResponse response = provider.chatModel(server, TIMEOUT).chat(UserMessage.from("one two  three\nfour"));

        assertThat(response.aiMessage().text()).isEqualTo(FakeLlmServer.DEFAULT_TEXT).contains("```python");
        assertThat(response.tokenUsage().inputTokenCount()).isEqualTo(4);
        assertThat(response.tokenUsage().outputTokenCount()).isEqualTo(7);
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void streamingAssemblesFullTextAndUsage(Provider provider) throws Exception {
        String text = "The quick brown fox\njumps over   the lazy dog.\n```java\nint x = 1;\n```";
        server.respondWith(call -> Reply.text(text).withUsage(5, 9));

        Streamed streamed = stream(provider.streamingModel(server, TIMEOUT), "tell me").get(10, SECONDS);

        assertThat(streamed.partials()).isEqualTo(text);
        assertThat(streamed.response().aiMessage().text()).isEqualTo(text);
        assertThat(streamed.response().tokenUsage().inputTokenCount()).isEqualTo(5);
        assertThat(streamed.response().tokenUsage().outputTokenCount()).isEqualTo(9);
        assertThat(server.calls()).singleElement().satisfies(call -> {
            assertThat(call.streaming()).isTrue();
            assertThat(call.prompt()).isEqualTo("tell me");
        });
    }

    static Stream<Arguments> errorMappings() {
        List<Arguments> statuses = List.of(
                Arguments.of(500, InternalServerException.class),
                Arguments.of(503, InternalServerException.class),
                Arguments.of(400, InvalidRequestException.class),
                Arguments.of(401, AuthenticationException.class),
                Arguments.of(429, RateLimitException.class));
        return Arrays.stream(Provider.values()).flatMap(provider -> statuses.stream()
                .map(status -> Arguments.of(provider, status.get()[0], status.get()[1])));
    }

    @ParameterizedTest
    @MethodSource("errorMappings")
    void errorStatusMapsToLangChain4jException(Provider provider, int status, Class<? extends Throwable> expected) {
        server.respondWith(call -> Reply.error(status, "boom " + status));

        assertThatThrownBy(() -> provider.chatModel(server, TIMEOUT).chat("hi"))
                .isInstanceOf(expected)
                .hasMessageContaining("boom " + status);
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void streamingErrorStatusMapsToLangChain4jException(Provider provider) {
        server.respondWith(call -> Reply.error(500, "stream boom"));

        assertThat(stream(provider.streamingModel(server, TIMEOUT), "hi")).failsWithin(TIMEOUT)
                .withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(InternalServerException.class);
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void delayBeyondClientTimeoutIsTimeoutException(Provider provider) {
        server.respondWith(call -> Reply.text("late").delayed(Duration.ofSeconds(2)));
        Duration shortTimeout = Duration.ofMillis(300);

        assertThatThrownBy(() -> provider.chatModel(server, shortTimeout).chat("hi"))
                .isInstanceOf(TimeoutException.class);
        assertThat(stream(provider.streamingModel(server, shortTimeout), "hi")).failsWithin(TIMEOUT)
                .withThrowableOfType(ExecutionException.class)
                .withCauseInstanceOf(TimeoutException.class);
    }

    @ParameterizedTest
    @EnumSource(Provider.class)
    void maxInFlightEqualsNumberOfHeldConcurrentCalls(Provider provider) throws Exception {
        int calls = 5;
        server.respondWith(call -> Reply.text("released").delayed(Duration.ofSeconds(30)));
        ChatModel model = provider.chatModel(server, Duration.ofSeconds(60));
        ExecutorService pool = Executors.newFixedThreadPool(calls);
        try {
            List<CompletableFuture<String>> futures = IntStream.range(0, calls)
                    .mapToObj(i -> CompletableFuture.supplyAsync(() -> model.chat("call " + i), pool))
                    .toList();

            await().atMost(TIMEOUT).until(() -> server.inFlight(provider.model) == calls);
            assertThat(server.maxInFlight(provider.model)).isEqualTo(calls);
            assertThat(futures).noneMatch(CompletableFuture::isDone);

            server.releaseDelayed();

            for (CompletableFuture<String> future : futures) {
                assertThat(future.get(10, SECONDS)).isEqualTo("released");
            }
            await().atMost(TIMEOUT).until(() -> server.inFlight(provider.model) == 0);
            assertThat(server.maxInFlight(provider.model)).isEqualTo(calls);
            assertThat(server.requestCount(provider.model)).isEqualTo(calls);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void expectedOpenAiKeyIsEnforced() {
        server.expectOpenAiKey("sk-right");

        assertThatThrownBy(() -> Provider.OPENAI.chatModel(server, TIMEOUT).chat("hi"))
                .isInstanceOf(AuthenticationException.class)
                .hasMessageContaining("invalid_api_key");
        ChatModel authorized = OpenAiChatModel.builder().baseUrl(server.openAiBaseUrl()).apiKey("sk-right")
                .modelName("gpt-4o-mini").maxRetries(0).build();
        assertThat(authorized.chat("hi")).isEqualTo(FakeLlmServer.DEFAULT_TEXT);
        assertThat(server.calls()).singleElement()
                .satisfies(call -> assertThat(call.header("authorization")).isEqualTo("Bearer sk-right"));
    }

    @Test
    void droppedConnectionFailsTheCall() {
        server.respondWith(call -> Reply.dropConnection());

        assertThatThrownBy(() -> Provider.OPENAI.chatModel(server, TIMEOUT).chat("hi"))
                .hasRootCauseInstanceOf(IOException.class);
        await().atMost(TIMEOUT).until(() -> server.inFlight(Provider.OPENAI.model) == 0);
    }

    @Test
    void anthropicRequiresApiKeyHeader() throws Exception {
        HttpResponse<String> response = post("/v1/messages",
                "{\"model\":\"m\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                "anthropic-version", "2023-06-01");

        assertThat(response.statusCode()).isEqualTo(401);
        JsonNode body = LoopbackHttpServer.MAPPER.readTree(response.body());
        assertThat(body.path("type").asText()).isEqualTo("error");
        assertThat(body.path("error").path("type").asText()).isEqualTo("authentication_error");
        assertThat(server.calls()).isEmpty();
    }

    @Test
    void ollamaStreamsNdjsonWhenStreamFlagIsAbsent() throws Exception {
        server.respondWith(call -> Reply.text("a b c").withUsage(2, 3));

        HttpResponse<String> response = post("/api/chat",
                "{\"model\":\"llama3.2:1b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");

        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
        List<JsonNode> lines = response.body().lines().map(FakeLlmServerTest::parse).toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.subList(0, 3)).allMatch(line -> !line.path("done").asBoolean());
        assertThat(lines.get(3).path("done").asBoolean()).isTrue();
        assertThat(lines.get(3).path("prompt_eval_count").asInt()).isEqualTo(2);
        assertThat(lines.get(3).path("eval_count").asInt()).isEqualTo(3);
        assertThat(server.calls()).singleElement().satisfies(call -> assertThat(call.streaming()).isTrue());
    }

    @Test
    void ollamaTagsListConfiguredModels() {
        server.ollamaModels("llama3.2:1b", "qwen2.5-coder:7b");

        List<OllamaModel> models = OllamaModels.builder().baseUrl(server.ollamaBaseUrl()).build()
                .availableModels().content();

        assertThat(models).extracting(OllamaModel::getName).containsExactly("llama3.2:1b", "qwen2.5-coder:7b");
    }

    @Test
    void malformedRequestsGetJsonErrors() throws Exception {
        HttpResponse<String> invalidJson = post("/v1/chat/completions", "{not json");
        assertThat(invalidJson.statusCode()).isEqualTo(400);
        assertThat(parse(invalidJson.body()).path("error").path("type").asText()).isEqualTo("invalid_request_error");

        HttpResponse<String> unknownPath = post("/v2/nothing", "{}");
        assertThat(unknownPath.statusCode()).isEqualTo(404);
        assertThat(parse(unknownPath.body()).has("error")).isTrue();

        HttpResponse<String> wrongMethod = http.send(HttpRequest.newBuilder(URI.create(server.ollamaBaseUrl() + "/api/chat"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(wrongMethod.statusCode()).isEqualTo(405);
        assertThat(server.calls()).isEmpty();
    }

    @Test
    void resetClearsCountersAndRestoresDefault() {
        server.respondWith(call -> Reply.text("custom"));
        ChatModel model = Provider.OPENAI.chatModel(server, TIMEOUT);
        assertThat(model.chat("hi")).isEqualTo("custom");

        server.reset();

        assertThat(server.calls()).isEmpty();
        assertThat(server.requestCount(Provider.OPENAI.model)).isZero();
        assertThat(server.maxInFlight(Provider.OPENAI.model)).isZero();
        assertThat(model.chat("hi")).isEqualTo(FakeLlmServer.DEFAULT_TEXT);
    }

    private static CompletableFuture<Streamed> stream(StreamingChatModel model, String prompt) {
        CompletableFuture<Streamed> result = new CompletableFuture<>();
        StringBuffer partials = new StringBuffer();
        model.chat(prompt, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partialResponse) {
                partials.append(partialResponse);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                result.complete(new Streamed(partials.toString(), response));
            }

            @Override
            public void onError(Throwable error) {
                result.completeExceptionally(error);
            }
        });
        return result;
    }

    private HttpResponse<String> post(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.ollamaBaseUrl() + path))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode parse(String json) {
        try {
            return LoopbackHttpServer.MAPPER.readTree(json);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
