package io.dats.worker.llm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.InternalServerException;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.ModelNotFoundException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.model.chat.ChatModel;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

class LlmFailuresTest {

    private static FakeLlmServer server;

    @BeforeAll
    static void startServer() {
        server = new FakeLlmServer().start();
    }

    @AfterAll
    static void stopServer() {
        server.close();
    }

    @BeforeEach
    void resetServer() {
        server.reset();
    }

    @Test
    void retriesServerErrorsRateLimitsTimeoutsAndConnectionFailures() {
        assertThat(LlmFailures.isTransient(new InternalServerException("500"))).isTrue();
        assertThat(LlmFailures.isTransient(new RateLimitException("429"))).isTrue();
        assertThat(LlmFailures.isTransient(new TimeoutException("timed out"))).isTrue();
        assertThat(LlmFailures.isTransient(new RuntimeException("call failed", new ConnectException("Connection refused")))).isTrue();
        assertThat(LlmFailures.isTransient(new UncheckedIOException(new IOException("connection reset")))).isTrue();
        assertThat(LlmFailures.isTransient(new HttpTimeoutException("request timed out"))).isTrue();
    }

    @Test
    void doesNotRetryRequestAuthenticationOrModelErrorsNorProgrammingErrors() {
        assertThat(LlmFailures.isTransient(new InvalidRequestException("400"))).isFalse();
        assertThat(LlmFailures.isTransient(new AuthenticationException("401"))).isFalse();
        assertThat(LlmFailures.isTransient(new ModelNotFoundException("404"))).isFalse();
        assertThat(LlmFailures.isTransient(new IllegalArgumentException("bad argument"))).isFalse();
        assertThat(LlmFailures.isTransient(new RuntimeException("no cause"))).isFalse();
        assertThat(LlmFailures.isTransient(null)).isFalse();
    }

    @Test
    void letsTheOutermostLangChain4jClassificationDecide() {
        assertThat(LlmFailures.isTransient(new RuntimeException(new RateLimitException("429")))).isTrue();
        InvalidRequestException invalid = new InvalidRequestException("400");
        invalid.initCause(new ConnectException("irrelevant"));
        assertThat(LlmFailures.isTransient(invalid)).isFalse();
    }

    @Test
    void recognisesTimeoutsAnywhereInTheCauseChain() {
        assertThat(LlmFailures.isTimeout(new TimeoutException("timed out"))).isTrue();
        assertThat(LlmFailures.isTimeout(new RuntimeException(new HttpTimeoutException("request timed out")))).isTrue();
        assertThat(LlmFailures.isTimeout(new RuntimeException(new java.util.concurrent.TimeoutException()))).isTrue();
        assertThat(LlmFailures.isTimeout(new InternalServerException("500"))).isFalse();
        assertThat(LlmFailures.isTimeout(new RuntimeException(new ConnectException("refused")))).isFalse();
        assertThat(LlmFailures.isTimeout(null)).isFalse();
    }

    @Test
    void walksTheCauseChainOutermostFirstAndLetsTheOutermostClassifiedFailureDecide() {
        ConnectException root = new ConnectException("refused");
        RuntimeException wrapper = new RuntimeException(root);
        assertThat(LlmFailures.causeChain(wrapper)).containsExactly(wrapper, root);
        assertThat(LlmFailures.causeChain(null)).isEmpty();
        assertThat(LlmFailures.isTransient(new AuthenticationException(new ConnectException("refused")))).isFalse();
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void classifiesARealClientTimeoutAsTransientTimeout(Provider provider) {
        server.respondWith(call -> Reply.text("late").delayed(Duration.ofSeconds(5)));
        ChatModel model = model(provider, server, Duration.ofMillis(300));

        Throwable failure = catchThrowable(() -> model.chat("hello"));

        assertThat(failure).isNotNull();
        assertThat(LlmFailures.isTimeout(failure)).as("timeout: %s", failure).isTrue();
        assertThat(LlmFailures.isTransient(failure)).as("transient: %s", failure).isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void classifiesRealClientErrorsByStatus(Provider provider) {
        for (int status : List.of(500, 503, 429)) {
            server.respondWith(call -> Reply.error(status, "status " + status));
            Throwable failure = catchThrowable(() -> model(provider, server, Duration.ofSeconds(10)).chat("hello"));
            assertThat(LlmFailures.isTransient(failure)).as("%s %s: %s", provider, status, failure).isTrue();
            assertThat(LlmFailures.isTimeout(failure)).as("%s %s: %s", provider, status, failure).isFalse();
        }
        for (int status : List.of(400, 401, 404)) {
            server.respondWith(call -> Reply.error(status, "status " + status));
            Throwable failure = catchThrowable(() -> model(provider, server, Duration.ofSeconds(10)).chat("hello"));
            assertThat(LlmFailures.isTransient(failure)).as("%s %s: %s", provider, status, failure).isFalse();
        }
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void classifiesARefusedConnectionAsTransient(Provider provider) throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        String baseUrl = "http://127.0.0.1:" + closedPort + (provider == Provider.OLLAMA ? "" : "/v1/");
        WorkerProperties.Tier tier = TestWorkerProperties.tier(provider, baseUrl, "m", "sk-test", 1, Duration.ofSeconds(5), 3);

        Throwable failure = catchThrowable(() -> new ChatModelFactory(List.of()).create("t", tier).chat("hello"));

        assertThat(failure).isNotNull();
        assertThat(LlmFailures.isTransient(failure)).as("transient: %s", failure).isTrue();
        assertThat(LlmFailures.isTimeout(failure)).as("timeout: %s", failure).isFalse();
    }

    private static ChatModel model(Provider provider, FakeLlmServer server, Duration timeout) {
        String baseUrl = switch (provider) {
            case OPENAI -> server.openAiBaseUrl();
            case OLLAMA -> server.ollamaBaseUrl();
            case ANTHROPIC -> server.anthropicBaseUrl();
            case LOCAL -> throw new IllegalArgumentException("no HTTP server");
        };
        return new ChatModelFactory(List.of())
                .create("t", TestWorkerProperties.tier(provider, baseUrl, "m-" + provider, "sk-test", 1, timeout, 3));
    }
}
