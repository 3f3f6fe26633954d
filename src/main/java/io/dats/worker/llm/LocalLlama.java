package io.dats.worker.llm;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaIterator;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.Pair;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.TimeoutException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;

/**
 * One GGUF model loaded in the worker's process by llama.cpp (java-llama.cpp {@code de.kherud:llama}): its chat
 * template (from the GGUF, run by llama.cpp's Jinja engine) turns the messages into the prompt, and every call gets
 * its own sequence ("slot") of the shared llama context, {@code contextPerCall} tokens each; calls beyond the slots
 * wait in llama.cpp's task queue. Thread-safe: llama.cpp's server loop owns the context, callers only post tasks and
 * read their results.
 */
public final class LocalLlama implements AutoCloseable {

    private final Path file;
    private final int slots;
    private final int contextPerCall;
    private final LlamaModel model;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LocalLlama(Path file, int slots, int contextPerCall, LlamaModel model) {
        this.file = file;
        this.slots = slots;
        this.contextPerCall = contextPerCall;
        this.model = model;
    }

    /**
     * Loads the GGUF file with {@code slots} sequences of {@code contextPerCall} tokens. {@code threads} 0 leaves the
     * CPU thread count to llama.cpp.
     */
    public static LocalLlama load(Path file, int slots, int contextPerCall, int threads) {
        LocalLlamaLog.install();
        ModelParameters parameters = new ModelParameters()
                .setModel(file.toString())
                .setParallel(slots)
                .setCtxSize(slots * contextPerCall)
                .enableJinja();
        if (threads > 0) {
            parameters.setThreads(threads).setThreadsBatch(threads);
        }
        return new LocalLlama(file, slots, contextPerCall, new LlamaModel(parameters));
    }

    public Path file() {
        return file;
    }

    public int slots() {
        return slots;
    }

    public int contextPerCall() {
        return contextPerCall;
    }

    /** What one call produced. */
    public record Generation(String text, TokenUsage tokenUsage, FinishReason finishReason) {
    }

    /**
     * Runs one chat turn: the messages through the model's chat template, then at most {@code maxTokens} tokens,
     * each handed to {@code onToken} as it is produced. Fails with LangChain4j's {@link TimeoutException} when the
     * answer takes longer than {@code timeout} (the sequence is cancelled and freed).
     */
    public Generation generate(List<ChatMessage> messages, int maxTokens, Double temperature, Duration timeout,
                               Consumer<String> onToken) {
        if (closed.get()) {
            throw new IllegalStateException("the local model " + file + " is closed");
        }
        String prompt = prompt(messages);
        int inputTokens = model.encode(prompt).length;
        // no prompt cache: llama.cpp evaluates a cached prompt's remainder in a smaller batch, whose logits are not
        // bit-for-bit those of a whole prompt (its server documentation says so), and at temperature 0 the same task
        // must give the same answer; a task's prompt shares little with the one before it anyway
        InferenceParameters parameters = new InferenceParameters(prompt)
                .setNPredict(maxTokens)
                .setCachePrompt(false);
        if (temperature != null) {
            parameters.setTemperature(temperature.floatValue());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        LlamaIterator tokens = model.generate(parameters).iterator();
        StringBuilder text = new StringBuilder();
        int outputTokens = 0;
        try {
            while (tokens.hasNext()) {
                LlamaOutput output = tokens.next();
                if (!tokens.hasNext()) {
                    // llama.cpp's final result of a stream carries no text: it only says the sequence ended
                    break;
                }
                outputTokens++;
                text.append(output.text);
                if (!output.text.isEmpty()) {
                    onToken.accept(output.text);
                }
                if (System.nanoTime() > deadline) {
                    throw new TimeoutException("the local model " + file.getFileName() + " produced " + outputTokens
                            + " token(s) in " + timeout.toMillis() + " ms without finishing");
                }
            }
        } catch (RuntimeException e) {
            if (tokens.hasNext()) {
                // free the sequence for the next call
                tokens.cancel();
            }
            throw e;
        }
        FinishReason reason = outputTokens >= maxTokens ? FinishReason.LENGTH : FinishReason.STOP;
        return new Generation(text.toString(), new TokenUsage(inputTokens, outputTokens), reason);
    }

    /** The prompt the model's own chat template makes of the messages (with the assistant's turn opened). */
    String prompt(List<ChatMessage> messages) {
        List<String> system = new ArrayList<>();
        List<Pair<String, String>> turns = new ArrayList<>();
        for (ChatMessage message : messages) {
            if (message instanceof SystemMessage s) {
                system.add(s.text());
            } else if (message instanceof UserMessage u) {
                turns.add(new Pair<>("user", text(u)));
            } else if (message instanceof AiMessage a) {
                turns.add(new Pair<>("assistant", a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException("the local model takes system, user and assistant messages, not "
                        + message.type());
            }
        }
        InferenceParameters template = new InferenceParameters("")
                .setMessages(system.isEmpty() ? null : String.join("\n\n", system), turns);
        return model.applyTemplate(template);
    }

    private static String text(UserMessage message) {
        List<Content> contents = message.contents();
        if (contents.stream().anyMatch(c -> !(c instanceof TextContent))) {
            throw new UnsupportedFeatureException("the local model reads text only (this message carries "
                    + contents.stream().map(c -> c.type().name().toLowerCase()).distinct().collect(Collectors.joining(", "))
                    + ")");
        }
        return contents.stream().map(c -> ((TextContent) c).text()).collect(Collectors.joining("\n"));
    }

    /** Stops llama.cpp's loop for this model; later calls fail. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            model.close();
        }
    }
}
