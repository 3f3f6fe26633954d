package io.dats.worker.llm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.langchain4j.exception.AuthenticationException;
import dev.langchain4j.model.anthropic.AnthropicStreamingChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.ollama.OllamaStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;

import org.springframework.stereotype.Component;

/**
 * The streaming twin of every tier's chat model ({@link ChatModelFactory}): same provider, base URL, model, key,
 * timeout, temperature, output token limit (in the provider's field), Ollama context window and gateway headers.
 * Used by {@code POST /v1/infer} with {@code "stream": true}, which forwards the tokens as the model produces them.
 * Streaming clients do not retry (there is no {@code maxRetries} to turn off): a failed stream is the caller's error.
 */
@Component
public class StreamingChatModels {

    private final Map<String, StreamingChatModel> byTier = new LinkedHashMap<>();

    StreamingChatModels(WorkerProperties properties, List<ChatModelListener> listeners, LocalModels localModels) {
        properties.tiers().forEach((name, tier) -> byTier.put(name, create(name, tier, listeners, localModels)));
    }

    public StreamingChatModel of(String tier) {
        StreamingChatModel model = byTier.get(tier);
        if (model == null) {
            throw new IllegalArgumentException("unknown tier '" + tier + "'");
        }
        return model;
    }

    static StreamingChatModel create(String tierName, Tier tier, List<ChatModelListener> listeners) {
        return create(tierName, tier, listeners, null);
    }

    static StreamingChatModel create(String tierName, Tier tier, List<ChatModelListener> listeners,
                                     LocalModels localModels) {
        if (tier.provider() == Provider.LOCAL) {
            java.util.Optional<String> problem = LocalModels.problem(tierName, tier);
            if (localModels == null || problem.isPresent()) {
                return failing(new dev.langchain4j.exception.ModelNotFoundException(
                        problem.orElse("no local models are available")));
            }
            return LocalChatModel.streaming(tierName, tier, localModels, listeners);
        }
        String baseUrl = tier.baseUrl().toString();
        HeaderAddingHttpClientBuilder http = new HeaderAddingHttpClientBuilder(tier.headers());
        return switch (tier.provider()) {
            case OLLAMA -> OllamaStreamingChatModel.builder()
                    .httpClientBuilder(http)
                    .baseUrl(baseUrl)
                    .modelName(tier.model())
                    .timeout(tier.timeout())
                    .temperature(tier.temperature())
                    .numPredict(tier.maxOutputTokens())
                    .numCtx(tier.contextWindow())
                    .listeners(listeners)
                    .build();
            case OPENAI -> {
                OpenAiStreamingChatModel.OpenAiStreamingChatModelBuilder builder = OpenAiStreamingChatModel.builder()
                        .httpClientBuilder(http)
                        .baseUrl(baseUrl)
                        .apiKey(tier.hasApiKey() ? tier.apiKey() : null)
                        .modelName(tier.model())
                        .timeout(tier.timeout())
                        .temperature(tier.temperature())
                        .listeners(listeners);
                if (tier.sendsMaxCompletionTokens()) {
                    builder.maxCompletionTokens(tier.maxOutputTokens());
                } else {
                    builder.maxTokens(tier.maxOutputTokens());
                }
                yield builder.build();
            }
            case ANTHROPIC -> tier.hasApiKey()
                    ? AnthropicStreamingChatModel.builder()
                            .httpClientBuilder(http)
                            .baseUrl(baseUrl)
                            .apiKey(tier.apiKey())
                            .modelName(tier.model())
                            .timeout(tier.timeout())
                            .temperature(tier.temperature())
                            .maxTokens(tier.maxOutputTokens())
                            .listeners(listeners)
                            .build()
                    : missingApiKey(tierName);
            case LOCAL -> throw new IllegalStateException("unreachable");
        };
    }

    private static StreamingChatModel missingApiKey(String tierName) {
        return failing(new AuthenticationException(ChatModelFactory.missingApiKeyReason(tierName, Provider.ANTHROPIC)));
    }

    private static StreamingChatModel failing(RuntimeException failure) {
        return new StreamingChatModel() {
            @Override
            public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
                handler.onError(failure);
            }
        };
    }
}
