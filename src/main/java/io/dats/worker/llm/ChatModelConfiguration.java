package io.dats.worker.llm;

import java.util.List;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import io.dats.worker.config.WorkerProperties;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** One chat model per tier, referenced from routes/llm-calls.camel.yaml as {@code #<tier>ChatModel}. */
@Configuration(proxyBeanMethods = false)
class ChatModelConfiguration {

    @Bean
    ChatModelFactory chatModelFactory(List<ChatModelListener> listeners) {
        return new ChatModelFactory(listeners);
    }

    @Bean
    ChatModel tinyChatModel(ChatModelFactory factory, WorkerProperties properties) {
        return factory.create("tiny", properties.tier("tiny"));
    }

    @Bean
    ChatModel smallChatModel(ChatModelFactory factory, WorkerProperties properties) {
        return factory.create("small", properties.tier("small"));
    }

    @Bean
    ChatModel largeChatModel(ChatModelFactory factory, WorkerProperties properties) {
        return factory.create("large", properties.tier("large"));
    }

    @Bean
    ChatModel codingChatModel(ChatModelFactory factory, WorkerProperties properties) {
        return factory.create("coding", properties.tier("coding"));
    }

    @Bean
    ChatModel frontierChatModel(ChatModelFactory factory, WorkerProperties properties) {
        return factory.create("frontier", properties.tier("frontier"));
    }
}
