package io.dats.worker.llm;

import java.util.Map;

import dev.langchain4j.model.chat.ChatModel;

/** The chat model of every configured tier, by tier name. */
public final class ChatModels {

    private final Map<String, ChatModel> byTier;

    ChatModels(Map<String, ChatModel> byTier) {
        this.byTier = Map.copyOf(byTier);
    }

    public Map<String, ChatModel> byTier() {
        return byTier;
    }

    /** The name the tier's model is bound under in Camel's registry ({@code chatModel: "#chatModel-<tier>"}). */
    public static String beanName(String tier) {
        return "chatModel-" + tier;
    }
}
