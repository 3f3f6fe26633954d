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

    @Bean
    ChatModelFactory chatModelFactory(List<ChatModelListener> listeners) {
        return new ChatModelFactory(listeners);
    }

    @Bean
    ChatModels chatModels(ChatModelFactory factory, WorkerProperties properties) {
        Map<String, ChatModel> models = new LinkedHashMap<>();
        properties.tiers().forEach((name, tier) -> models.put(name, factory.create(name, tier)));
        return new ChatModels(models);
    }
}
