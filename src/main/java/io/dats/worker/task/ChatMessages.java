package io.dats.worker.task;

import java.util.ArrayList;
import java.util.List;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * The message list camel-langchain4j-chat sends ({@code CHAT_MULTIPLE_MESSAGES}): one user message with the rendered
 * prompt and, for tasks with images, an image part per image. Each provider client puts those parts on the wire in
 * its own format (OpenAI {@code image_url} parts, Ollama {@code images}, Anthropic image blocks).
 */
@Component("chatMessages")
public class ChatMessages {

    public List<ChatMessage> build(Exchange exchange) {
        String prompt = exchange.getMessage().getBody(String.class);
        Task task = exchange.getVariable(TaskVariables.TASK, Task.class);
        if (task == null || task.images().isEmpty()) {
            return mutable(UserMessage.from(prompt));
        }
        List<Content> parts = new ArrayList<>();
        parts.add(TextContent.from(prompt));
        for (String image : task.images()) {
            // without line breaks: providers want plain base64
            String base64 = TaskReader.base64Of(image.substring(image.indexOf(',') + 1));
            parts.add(ImageContent.from(base64, TaskReader.mediaType(image)));
        }
        return mutable(UserMessage.from(parts));
    }

    /** camel-langchain4j-chat replaces the user messages of the list in place. */
    private static List<ChatMessage> mutable(ChatMessage message) {
        List<ChatMessage> messages = new ArrayList<>(1);
        messages.add(message);
        return messages;
    }
}
