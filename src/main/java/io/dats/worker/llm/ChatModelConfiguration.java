package io.dats.worker.llm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import io.dats.worker.config.WorkerProperties;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** One chat model per configured tier ({@code worker.tiers.<tier>}), held by {@link ChatModels}. */
@Configuration(proxyBeanMethods = false)
class ChatModelConfiguration {

    /** The GGUF models of {@code provider: local} tiers, loaded on first use and closed with the context. */
    @Bean(destroyMethod = "close")
    LocalModels localModels(WorkerProperties properties) {
        return new LocalModels(properties);
    }

    @Bean
    ChatModelFactory chatModelFactory(List<ChatModelListener> listeners, LocalModels localModels) {
        return new ChatModelFactory(listeners, localModels);
    }

    @Bean
    ChatModels chatModels(ChatModelFactory factory, WorkerProperties properties) {
        Map<String, ChatModel> models = new LinkedHashMap<>();
        properties.tiers().forEach((name, tier) -> models.put(name, factory.create(name, tier)));
        return new ChatModels(models);
    }
}
