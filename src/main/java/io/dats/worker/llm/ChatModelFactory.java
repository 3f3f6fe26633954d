package io.dats.worker.llm;

import java.util.List;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.model.anthropic.AnthropicChatModel;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.ollama.OllamaChatModel;
import dev.langchain4j.model.openai.OpenAiChatModel;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the LangChain4j chat model of a tier with the provider settings real servers need: the output token limit
 * in the provider's field ({@code max_tokens} or {@code max_completion_tokens}, {@code num_predict},
 * {@code max_tokens}), temperature, Ollama's {@code num_ctx}, and a gateway's extra headers. The clients' own retries
 * are off ({@code maxRetries(0)}): Camel's redelivery retries, so attempts do not multiply.
 */
public final class ChatModelFactory {

    private static final Logger LOG = LoggerFactory.getLogger(ChatModelFactory.class);

    private final List<ChatModelListener> listeners;
    private final LocalModels localModels;

    /** A factory for tiers served by model servers only (no {@code provider: local}). */
    public ChatModelFactory(List<ChatModelListener> listeners) {
        this(listeners, null);
    }

    public ChatModelFactory(List<ChatModelListener> listeners, LocalModels localModels) {
        this.listeners = List.copyOf(listeners);
        this.localModels = localModels;
    }

    public ChatModel create(String tierName, Tier tier) {
        if (tier.provider() == Provider.LOCAL) {
            return local(tierName, tier);
        }
        String baseUrl = tier.baseUrl().toString();
        HeaderAddingHttpClientBuilder http = new HeaderAddingHttpClientBuilder(tier.headers());
        return switch (tier.provider()) {
            case OLLAMA -> OllamaChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl)
                    .modelName(tier.model())
                    .timeout(tier.timeout())
                    .temperature(tier.temperature())
                    .numPredict(tier.maxOutputTokens())
                    .numCtx(tier.contextWindow())
                    .maxRetries(0)
                    .listeners(listeners)
                    .build();
            case OPENAI -> {
                OpenAiChatModel.OpenAiChatModelBuilder builder = OpenAiChatModel.builder()
                        .httpClientBuilder(http)
                        .baseUrl(baseUrl)
                        .apiKey(tier.hasApiKey() ? tier.apiKey() : null)
                        .modelName(tier.model())
                        .timeout(tier.timeout())
                        .temperature(tier.temperature())
                        .maxRetries(0)
                        .listeners(listeners);
                if (tier.sendsMaxCompletionTokens()) {
                    builder.maxCompletionTokens(tier.maxOutputTokens());
                } else {
                    builder.maxTokens(tier.maxOutputTokens());
                }
                yield builder.build();
            }
            case ANTHROPIC -> tier.hasApiKey()
                    ? AnthropicChatModel.builder()
                            .httpClientBuilder(http)
                            .baseUrl(baseUrl)
                            .apiKey(tier.apiKey())
                            .modelName(tier.model())
                            .timeout(tier.timeout())
                            .temperature(tier.temperature())
                            .maxTokens(tier.maxOutputTokens())
                            .maxRetries(0)
                            .listeners(listeners)
                            .build()
                    : missingApiKey(tierName, tier.provider());
            case LOCAL -> throw new IllegalStateException("unreachable");
        };
    }

    /** A tier run in the worker's process; a missing GGUF file fails its tasks with the reason, other tiers run. */
    private ChatModel local(String tierName, Tier tier) {
        if (localModels == null) {
            throw new IllegalStateException("tier " + tierName + " has provider local but no local models are available");
        }
        java.util.Optional<String> problem = LocalModels.problem(tierName, tier);
        if (problem.isPresent()) {
            LOG.warn("Tier '{}': its tasks will fail. {}", tierName, problem.get());
            return failing(new dev.langchain4j.exception.ModelNotFoundException(problem.get()));
        }
        return LocalChatModel.chat(tierName, tier, localModels, listeners);
    }

    /** The effective settings of a tier, for the start log: never the key nor header values. */
    public static String describe(String tierName, Tier tier) {
        String tokens = switch (tier.provider()) {
            case OLLAMA -> "num_predict";
            case OPENAI -> tier.sendsMaxCompletionTokens() ? "max_completion_tokens" : "max_tokens";
            case ANTHROPIC -> "max_tokens";
            case LOCAL -> "n_predict";
        };
        return "tier " + tierName + ": " + tier.provider().name().toLowerCase() + " model '" + tier.model() + "' at "
                + (tier.provider() == Provider.LOCAL ? tier.modelPath() : tier.baseUrl()) + ", concurrency " + tier.concurrency() + ", consumers " + tier.consumerCount()
                + ", timeout " + tier.timeout().toMillis() + " ms x " + tier.maxAttempts() + " attempt(s), "
                + tokens + " " + tier.maxOutputTokens()
                + ", temperature " + (tier.temperature() == null ? "server default" : tier.temperature())
                + (tier.provider() == Provider.OLLAMA
                        ? ", num_ctx " + (tier.contextWindow() == null ? "server default" : tier.contextWindow()) : "")
                + (tier.provider() == Provider.LOCAL ? ", context-window " + (tier.contextWindow() == null
                        ? "worker.local.context-window" : tier.contextWindow()) + " per call" : "")
                + ", requests-per-minute " + (tier.rateLimited()
                        ? tier.requestsPerMinute() + " per " + tier.ratePeriod().toMillis() + " ms" : "off")
                + ", vision " + tier.vision()
                + ", api key " + (tier.hasApiKey() ? "set" : "not set")
                + (tier.headers().isEmpty() ? "" : ", extra headers " + tier.headers().keySet());
    }

    /** Why a tier whose provider needs a key has none, naming the setting and its environment variable. */
    public static String missingApiKeyReason(String tierName, Provider provider) {
        String key = "worker.tiers." + tierName + ".api-key";
        return key + " is not set (environment variable " + WorkerProperties.envVar(key) + "); the "
                + provider.name().toLowerCase() + " provider requires one";
    }

    private ChatModel missingApiKey(String tierName, Provider provider) {
        String reason = missingApiKeyReason(tierName, provider);
        LOG.warn("Tier '{}' has no API key: its tasks will fail. {}", tierName, reason);
        return failing(new AuthenticationException(reason));
    }

    /** A model whose every call fails with the exception (a tier that cannot run, with the reason why). */
    private ChatModel failing(RuntimeException failure) {
        return new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                throw failure;
            }

            @Override
            public List<ChatModelListener> listeners() {
                return listeners;
            }
        };
    }
}
