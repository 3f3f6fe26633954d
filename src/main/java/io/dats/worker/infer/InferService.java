package io.dats.worker.infer;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatRequestParameters;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.ChatModels;
import io.dats.worker.llm.StreamingChatModels;
import io.dats.worker.llm.TierSlots;
import io.dats.worker.metrics.WorkerMetrics;

import org.springframework.stereotype.Service;

/**
 * Runs {@code POST /v1/infer} calls against a tier's model under the tier's bound: each call holds one of the tier's
 * {@link TierSlots} (the same permits the {@code llm-<tier>} route's exchanges hold) from before the request to the
 * model until its answer, or its stream, has ended. The request's {@code max_tokens} and {@code temperature} go to
 * the model as LangChain4j request parameters (overriding the tier's defaults).
 */
@Service
public class InferService {

    private final WorkerProperties properties;
    private final ChatModels chatModels;
    private final StreamingChatModels streamingModels;
    private final TierSlots slots;
    private final WorkerMetrics metrics;

    InferService(WorkerProperties properties, ChatModels chatModels, StreamingChatModels streamingModels,
                 TierSlots slots, WorkerMetrics metrics) {
        this.properties = properties;
        this.chatModels = chatModels;
        this.streamingModels = streamingModels;
        this.slots = slots;
        this.metrics = metrics;
    }

    /** The answer of a call without streaming. */
    public record Completion(String text, int tokensGenerated, long durationMs, String model) {
    }

    /** Waits for a slot of the tier, then for the model's whole answer. */
    public Completion complete(InferRequest request) throws InterruptedException {
        try (TierSlots.Slot slot = slots.acquire(request.tier())) {
            long start = System.nanoTime();
            ChatResponse response;
            try {
                response = chatModels.byTier().get(request.tier()).chat(chatRequest(request));
            } catch (RuntimeException e) {
                metrics.recordInfer(request.tier(), false, null, System.nanoTime() - start);
                throw e;
            }
            long nanos = System.nanoTime() - start;
            long durationMs = Duration.ofNanos(nanos).toMillis();
            metrics.recordInfer(request.tier(), true, response.tokenUsage(), nanos);
            Integer output = response.tokenUsage() == null ? null : response.tokenUsage().outputTokenCount();
            return new Completion(response.aiMessage().text() == null ? "" : response.aiMessage().text(),
                    output == null ? 0 : output, durationMs, response.modelName());
        }
    }

    /** What a streamed answer delivers, in order, from the model client's thread to the request thread. */
    public sealed interface StreamEvent {
        /** One piece of text as the model produced it. */
        record Token(String text) implements StreamEvent {
        }

        /** The model finished. */
        record Done(ChatResponse response) implements StreamEvent {
        }

        /** The model failed, or said nothing for the tier's timeout. */
        record Failed(Throwable error) implements StreamEvent {
        }
    }

    /**
     * Waits for a slot of the tier and starts the model's stream; the slot is held until {@link Stream#next()}
     * has returned the stream's end ({@code Done} or {@code Failed}) or the stream is closed.
     */
    public Stream stream(InferRequest request) throws InterruptedException {
        TierSlots.Slot slot = slots.acquire(request.tier());
        Stream stream = new Stream(request.tier(), slot, properties.tier(request.tier()).timeout());
        try {
            streamingModels.of(request.tier()).chat(chatRequest(request), stream.handler());
        } catch (RuntimeException e) {
            stream.events.add(new StreamEvent.Failed(e));
        }
        return stream;
    }

    /** One streamed answer being read. */
    public final class Stream implements AutoCloseable {

        private final String tier;
        private final TierSlots.Slot slot;
        private final Duration idleTimeout;
        private final BlockingQueue<StreamEvent> events = new LinkedBlockingQueue<>();
        private final long started = System.nanoTime();
        private volatile boolean ended;

        private Stream(String tier, TierSlots.Slot slot, Duration idleTimeout) {
            this.tier = tier;
            this.slot = slot;
            this.idleTimeout = idleTimeout;
        }

        private StreamingChatResponseHandler handler() {
            return new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String partialResponse) {
                    if (partialResponse != null && !partialResponse.isEmpty()) {
                        events.add(new StreamEvent.Token(partialResponse));
                    }
                }

                @Override
                public void onCompleteResponse(ChatResponse completeResponse) {
                    events.add(new StreamEvent.Done(completeResponse));
                }

                @Override
                public void onError(Throwable error) {
                    events.add(new StreamEvent.Failed(error));
                }
            };
        }

        /** The next event, waiting at most the tier's timeout for it. */
        public StreamEvent next() throws InterruptedException {
            if (ended) {
                throw new IllegalStateException("the stream has ended");
            }
            StreamEvent event = events.poll(idleTimeout.toMillis(), TimeUnit.MILLISECONDS);
            if (event == null) {
                event = new StreamEvent.Failed(new java.util.concurrent.TimeoutException(
                        "the model sent nothing for " + idleTimeout.toMillis() + " ms (worker.tiers." + tier + ".timeout)"));
            }
            if (event instanceof StreamEvent.Done done) {
                end(true, done.response());
            } else if (event instanceof StreamEvent.Failed) {
                end(false, null);
            }
            return event;
        }

        /** Reads (and drops) the rest of the stream: the model is still producing it, so the slot stays taken. */
        public void drain() throws InterruptedException {
            while (!ended) {
                next();
            }
        }

        private void end(boolean ok, ChatResponse response) {
            ended = true;
            slot.close();
            metrics.recordInfer(tier, ok, response == null ? null : response.tokenUsage(), System.nanoTime() - started);
        }

        @Override
        public void close() {
            ended = true;
            slot.close();
        }
    }

    private ChatRequest chatRequest(InferRequest request) {
        WorkerProperties.Tier tier = properties.tier(request.tier());
        ChatRequestParameters parameters;
        if (tier.provider() == WorkerProperties.Provider.OPENAI && tier.sendsMaxCompletionTokens()) {
            parameters = OpenAiChatRequestParameters.builder()
                    .maxCompletionTokens(request.maxTokens())
                    .temperature(request.temperature())
                    .build();
        } else {
            parameters = ChatRequestParameters.builder()
                    .maxOutputTokens(request.maxTokens())
                    .temperature(request.temperature())
                    .build();
        }
        return ChatRequest.builder()
                .messages(UserMessage.from(request.prompt()))
                .parameters(parameters)
                .build();
    }
}
