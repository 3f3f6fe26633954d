package io.dats.worker.llm;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.exception.InternalServerException;
import dev.langchain4j.exception.RateLimitException;
import dev.langchain4j.model.chat.ChatModel;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.LlmCall;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LlmCallTrackerTest {

    private static final Pattern N = Pattern.compile("n=(\\d+)");
    private static final int THREADS = 24;
    private static final int CALLS = 360;

    private static FakeLlmServer server;
    private static CamelContext camelContext;

    private final LlmCallTracker tracker = new LlmCallTracker(new TierCircuits(TestWorkerProperties.defaults(),
            new org.springframework.beans.factory.support.StaticListableBeanFactory().getBeanProvider(CamelContext.class)));
    private final ChatModelFactory factory = new ChatModelFactory(List.of(tracker));

    @BeforeAll
    static void start() {
        server = new FakeLlmServer().start();
        camelContext = new DefaultCamelContext();
        camelContext.start();
    }

    @AfterAll
    static void stop() {
        camelContext.stop();
        server.close();
    }

    @BeforeEach
    void resetServer() {
        server.reset();
    }

    @Test
    void recordsEachConcurrentCallsUsageOnItsOwnExchange() throws Exception {
        server.respondWith(LlmCallTrackerTest::usageFromPrompt);
        Map<Provider, ChatModel> models = Map.of(
                Provider.OPENAI, factory.create("large", tier(Provider.OPENAI, Duration.ofSeconds(30))),
                Provider.OLLAMA, factory.create("small", tier(Provider.OLLAMA, Duration.ofSeconds(30))),
                Provider.ANTHROPIC, factory.create("frontier", tier(Provider.ANTHROPIC, Duration.ofSeconds(30))));
        Provider[] providers = models.keySet().stream().sorted().toArray(Provider[]::new);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Exchange>> results = new ArrayList<>();
        try {
            for (int n = 1; n <= CALLS; n++) {
                int task = n;
                Provider provider = providers[n % providers.length];
                results.add(pool.submit(() -> {
                    go.await();
                    Exchange exchange = new DefaultExchange(camelContext);
                    exchange.setVariable("n", task);
                    exchange.setVariable("provider", provider);
                    tracker.begin(exchange);
                    String answer = models.get(provider).chat("Write task n=" + task + " please").toString();
                    tracker.end(exchange);
                    exchange.getMessage().setBody(answer);
                    return exchange;
                }));
            }
            go.countDown();
            for (Future<Exchange> result : results) {
                Exchange exchange = result.get(60, TimeUnit.SECONDS);
                int n = exchange.getVariable("n", Integer.class);
                Provider provider = exchange.getVariable("provider", Provider.class);
                assertThat(exchange.getVariable(LlmCallTracker.INPUT_TOKENS, Integer.class)).as("input of %s", n).isEqualTo(n);
                assertThat(exchange.getVariable(LlmCallTracker.OUTPUT_TOKENS, Integer.class)).as("output of %s", n)
                        .isEqualTo(1000 + n);
                assertThat(exchange.getVariable(LlmCallTracker.TOKENS_USED, Integer.class)).as("total of %s", n)
                        .isEqualTo(1000 + 2 * n);
                assertThat(exchange.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).as("attempts of %s", n).isEqualTo(1);
                assertThat(exchange.getVariable(LlmCallTracker.MODEL, String.class)).as("model of %s", n)
                        .isEqualTo(modelName(provider));
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(server.calls()).hasSize(CALLS);
        int maxInFlight = 0;
        for (Provider provider : providers) {
            maxInFlight = Math.max(maxInFlight, server.maxInFlight(modelName(provider)));
        }
        assertThat(maxInFlight).as("calls really overlapped").isGreaterThan(1);
    }

    @Test
    void countsEveryAttemptBetweenBeginAndEnd() {
        ChatModel model = factory.create("small", tier(Provider.OLLAMA, Duration.ofSeconds(10)));
        Exchange exchange = new DefaultExchange(camelContext);
        tracker.begin(exchange);

        server.respondWith(call -> Reply.error(500, "model is loading"));
        assertThatThrownBy(() -> model.chat("n=5")).isInstanceOf(InternalServerException.class);
        assertThat(exchange.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).isEqualTo(1);
        assertThat(exchange.getVariable(LlmCallTracker.TOKENS_USED)).isNull();

        server.respondWith(LlmCallTrackerTest::usageFromPrompt);
        model.chat("n=5");
        tracker.end(exchange);

        assertThat(exchange.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).isEqualTo(2);
        assertThat(exchange.getVariable(LlmCallTracker.TOKENS_USED, Integer.class)).isEqualTo(1010);
    }

    @Test
    void forgetsTheExchangeAtEnd() {
        server.respondWith(LlmCallTrackerTest::usageFromPrompt);
        ChatModel model = factory.create("large", tier(Provider.OPENAI, Duration.ofSeconds(10)));
        Exchange first = new DefaultExchange(camelContext);
        tracker.begin(first);
        model.chat("n=1");
        tracker.end(first);

        model.chat("n=2");

        assertThat(first.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).isEqualTo(1);
        assertThat(first.getVariable(LlmCallTracker.INPUT_TOKENS, Integer.class)).isEqualTo(1);
    }

    @Test
    void rebindsTheThreadAtTheNextBeginAfterAFailure() {
        ChatModel model = factory.create("large", tier(Provider.OPENAI, Duration.ofSeconds(10)));
        Exchange failed = new DefaultExchange(camelContext);
        tracker.begin(failed);
        server.respondWith(call -> Reply.error(503, "overloaded"));
        assertThatThrownBy(() -> model.chat("n=1")).isInstanceOf(InternalServerException.class);

        server.respondWith(LlmCallTrackerTest::usageFromPrompt);
        Exchange next = new DefaultExchange(camelContext);
        tracker.begin(next);
        model.chat("n=3");
        tracker.end(next);

        assertThat(failed.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).isEqualTo(1);
        assertThat(failed.getVariable(LlmCallTracker.TOKENS_USED)).isNull();
        assertThat(next.getVariable(LlmCallTracker.ATTEMPTS, Integer.class)).isEqualTo(1);
        assertThat(next.getVariable(LlmCallTracker.TOKENS_USED, Integer.class)).isEqualTo(1006);
    }

    @Test
    void ignoresCallsOutsideBeginAndEnd() {
        server.respondWith(LlmCallTrackerTest::usageFromPrompt);

        String answer = factory.create("tiny", tier(Provider.OLLAMA, Duration.ofSeconds(10))).chat("n=4");

        assertThat(answer).isEqualTo("answer 4");
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void buildsEveryProviderWithoutClientRetries(Provider provider) {
        ChatModel model = factory.create("t", tier(provider, Duration.ofSeconds(10)));

        server.respondWith(call -> Reply.error(500, "internal error"));
        assertThatThrownBy(() -> model.chat("n=1")).isInstanceOf(InternalServerException.class);
        assertThat(server.requestCount(modelName(provider))).isEqualTo(1);

        server.reset();
        server.respondWith(call -> Reply.error(429, "slow down"));
        assertThatThrownBy(() -> model.chat("n=1")).isInstanceOf(RateLimitException.class);
        assertThat(server.requestCount(modelName(provider))).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(value = Provider.class, names = "LOCAL", mode = EnumSource.Mode.EXCLUDE)
    void buildsEveryProviderWithTheTiersModelAndMaxTokens(Provider provider) {
        factory.create("t", tier(provider, Duration.ofSeconds(10))).chat("n=1");

        LlmCall call = server.calls().get(0);
        assertThat(call.provider()).isEqualTo(provider.name().toLowerCase());
        assertThat(call.model()).isEqualTo(modelName(provider));
        assertThat(call.prompt()).isEqualTo("n=1");
        assertThat(call.streaming()).isFalse();
        String maxTokens = switch (provider) {
            case OPENAI -> call.request().path("max_tokens").asText(call.request().path("max_completion_tokens").asText());
            case OLLAMA -> call.request().path("options").path("num_predict").asText();
            case ANTHROPIC -> call.request().path("max_tokens").asText();
            case LOCAL -> throw new IllegalArgumentException("no HTTP call");
        };
        assertThat(maxTokens).as(call.request().toString()).isEqualTo("4096");
    }

    @Test
    void failsAFrontierTierWithoutApiKeyBeforeAnyRequest() {
        for (String missing : new String[] {null, "", "  "}) {
            Tier keyless = TestWorkerProperties.tier(Provider.ANTHROPIC, server.anthropicBaseUrl(), "claude", missing, 1,
                    Duration.ofSeconds(10), 2);
            ChatModel model = factory.create("frontier", keyless);

            assertThatThrownBy(() -> model.chat("n=1"))
                    .isInstanceOf(AuthenticationException.class)
                    .hasMessageContaining("WORKER_TIERS_FRONTIER_API_KEY")
                    .hasMessageContaining("worker.tiers.frontier.api-key");
        }
        assertThat(server.calls()).isEmpty();
    }

    @Test
    void sendsTheAnthropicKeyWhenOneIsSet() {
        factory.create("frontier", tier(Provider.ANTHROPIC, Duration.ofSeconds(10))).chat("n=1");

        assertThat(server.calls()).singleElement()
                .satisfies(call -> assertThat(call.header("x-api-key")).isEqualTo("sk-ant-test"));
    }

    private static Reply usageFromPrompt(LlmCall call) {
        Matcher n = N.matcher(call.prompt());
        int value = n.find() ? Integer.parseInt(n.group(1)) : 0;
        return Reply.text("answer " + value).withUsage(value, 1000 + value)
                .delayed(Duration.ofMillis(ThreadLocalRandom.current().nextInt(1, 25)));
    }

    private static Tier tier(Provider provider, Duration timeout) {
        String baseUrl = switch (provider) {
            case OPENAI -> server.openAiBaseUrl();
            case OLLAMA -> server.ollamaBaseUrl();
            case ANTHROPIC -> server.anthropicBaseUrl();
            case LOCAL -> throw new IllegalArgumentException("no HTTP server");
        };
        return TestWorkerProperties.tier(provider, baseUrl, modelName(provider),
                provider == Provider.ANTHROPIC ? "sk-ant-test" : null, 4, timeout, 3);
    }

    private static String modelName(Provider provider) {
        return "model-" + provider.name().toLowerCase();
    }
}
