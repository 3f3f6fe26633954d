package io.dats.worker.llm;

import java.util.List;
import java.util.function.Consumer;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import io.dats.worker.config.WorkerProperties.Tier;

/**
 * A tier served by a GGUF model inside the worker ({@code provider: local}), as LangChain4j's {@link ChatModel} and
 * {@link StreamingChatModel}: the request's (or else the tier's) {@code max-output-tokens} and {@code temperature},
 * the tier's timeout per call, token usage and finish reason in the response, listeners notified as for the HTTP
 * providers. A streamed answer is produced on a thread of {@link LocalModels} and handed over token by token.
 */
final class LocalChatModel {

    private LocalChatModel() {
    }

    static ChatModel chat(String tierName, Tier tier, LocalModels models, List<ChatModelListener> listeners) {
        return new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                return answer(tier, models.of(tierName, tier), request, token -> {
                });
            }

            @Override
            public ChatRequestParameters defaultRequestParameters() {
                return defaults(tier);
            }

            @Override
            public List<ChatModelListener> listeners() {
                return listeners;
            }

            @Override
            public ModelProvider provider() {
                return ModelProvider.OTHER;
            }
        };
    }

    static StreamingChatModel streaming(String tierName, Tier tier, LocalModels models,
                                        List<ChatModelListener> listeners) {
        return new StreamingChatModel() {
            @Override
            public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
                LocalLlama model = models.of(tierName, tier);
                models.streams().execute(() -> {
                    ChatResponse response;
                    try {
                        response = answer(tier, model, request, handler::onPartialResponse);
                    } catch (RuntimeException e) {
                        handler.onError(e);
                        return;
                    }
                    handler.onCompleteResponse(response);
                });
            }

            @Override
            public ChatRequestParameters defaultRequestParameters() {
                return defaults(tier);
            }

            @Override
            public List<ChatModelListener> listeners() {
                return listeners;
            }

            @Override
            public ModelProvider provider() {
                return ModelProvider.OTHER;
            }
        };
    }

    private static ChatRequestParameters defaults(Tier tier) {
        return ChatRequestParameters.builder()
                .modelName(tier.model())
                .maxOutputTokens(tier.maxOutputTokens())
                .temperature(tier.temperature())
                .build();
    }

    private static ChatResponse answer(Tier tier, LocalLlama model, ChatRequest request, Consumer<String> onToken) {
        ChatRequestParameters parameters = request.parameters();
        int maxTokens = parameters != null && parameters.maxOutputTokens() != null ? parameters.maxOutputTokens()
                : tier.maxOutputTokens();
        Double temperature = parameters != null && parameters.temperature() != null ? parameters.temperature()
                : tier.temperature();
        LocalLlama.Generation generation = model.generate(request.messages(), maxTokens, temperature, tier.timeout(),
                onToken);
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(generation.text()))
                .modelName(tier.model())
                .tokenUsage(generation.tokenUsage())
                .finishReason(generation.finishReason())
                .build();
    }
}
