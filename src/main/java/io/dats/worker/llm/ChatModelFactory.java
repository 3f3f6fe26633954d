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
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the LangChain4j chat model of a tier. The clients' own retries are off ({@code maxRetries(0)}):
 * Camel's redelivery retries, so attempts do not multiply.
 */
public final class ChatModelFactory {

    private static final Logger LOG = LoggerFactory.getLogger(ChatModelFactory.class);

    private final List<ChatModelListener> listeners;

    public ChatModelFactory(List<ChatModelListener> listeners) {
        this.listeners = List.copyOf(listeners);
    }

    public ChatModel create(String tierName, Tier tier) {
        String baseUrl = tier.baseUrl().toString();
        return switch (tier.provider()) {
            case OLLAMA -> OllamaChatModel.builder()
                    .baseUrl(baseUrl)
                    .modelName(tier.model())
                    .timeout(tier.timeout())
                    .temperature(tier.temperature())
                    .numPredict(tier.maxTokens())
                    .maxRetries(0)
                    .listeners(listeners)
                    .build();
            case OPENAI -> OpenAiChatModel.builder()
                    .baseUrl(baseUrl)
                    .apiKey(tier.hasApiKey() ? tier.apiKey() : null)
                    .modelName(tier.model())
                    .timeout(tier.timeout())
                    .temperature(tier.temperature())
                    .maxTokens(tier.maxTokens())
                    .maxRetries(0)
                    .listeners(listeners)
                    .build();
            case ANTHROPIC -> tier.hasApiKey()
                    ? AnthropicChatModel.builder()
                            .baseUrl(baseUrl)
                            .apiKey(tier.apiKey())
                            .modelName(tier.model())
                            .timeout(tier.timeout())
                            .temperature(tier.temperature())
                            .maxTokens(tier.maxTokens())
                            .maxRetries(0)
                            .listeners(listeners)
                            .build()
                    : missingApiKey(tierName, tier.provider());
        };
    }

    /** A tier whose provider needs a key that is not set: its tasks fail at once with the reason, others run. */
    private ChatModel missingApiKey(String tierName, Provider provider) {
        String reason = "worker.tiers." + tierName + ".api-key is not set (environment variable WORKER_TIERS_"
                + tierName.toUpperCase() + "_API_KEY); the " + provider.name().toLowerCase() + " provider requires one";
        LOG.warn("Tier '{}' has no API key: its tasks will fail. {}", tierName, reason);
        return new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                throw new AuthenticationException(reason);
            }

            @Override
            public List<ChatModelListener> listeners() {
                return listeners;
            }
        };
    }
}
