package io.dats.worker.deadletter;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import io.dats.worker.config.WorkerProperties.Broker;

/**
 * One message of {@code worker-service.dead-letter} as the replay sees it: its task id, the kind of error that put it
 * there, the tier it came for, and the properties it is published with when moved back or kept.
 *
 * <p>Two producers dead-letter here: the worker's {@code keep-original} route (headers {@code x-failure-error},
 * {@code x-failure-reason}, {@code x-original-tier}; routing key {@code task.ready.<tier>}) and the broker itself for
 * rejected or over-delivered messages ({@code x-death}, {@code x-first-death-*} headers and the original routing key).
 */
record DeadLetter(String taskId, String error, Optional<String> tier, AMQP.BasicProperties properties, byte[] body) {

    static final String FAILURE_HEADER_PREFIX = "x-failure-";
    static final String ORIGINAL_TIER = "x-original-tier";
    /** Error kind of a message the broker dead-lettered without a worker failure header and without a reason. */
    static final String UNKNOWN_ERROR = "unknown";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    static DeadLetter of(AMQP.BasicProperties properties, String routingKey, byte[] body, Broker broker) {
        Map<String, Object> headers = headers(properties);
        return new DeadLetter(taskId(body, properties.getMessageId()), errorKind(headers),
                tier(headers, routingKey, broker), properties, body);
    }

    /** The body's {@code task_id} when the body is a JSON object that has one, else the AMQP message id (or null). */
    static String taskId(byte[] body, String messageId) {
        try {
            JsonNode json = MAPPER.readTree(new String(body, StandardCharsets.UTF_8));
            if (json != null && json.path("task_id").isTextual() && !json.path("task_id").asText().isBlank()) {
                return json.path("task_id").asText();
            }
        } catch (Exception e) {
            // not JSON (an invalid task): the message id is all there is
        }
        return messageId == null || messageId.isBlank() ? null : messageId;
    }

    /**
     * The worker's error code ({@code x-failure-error}: llm_failed, invalid_task, ...) or, for a message the broker
     * dead-lettered, the broker's reason ({@code rejected}, {@code delivery_limit}, {@code expired}, {@code maxlen}).
     */
    static String errorKind(Map<String, Object> headers) {
        String failure = text(headers.get(FAILURE_HEADER_PREFIX + "error"));
        if (failure != null) {
            return failure;
        }
        String reason = text(headers.get("x-first-death-reason"));
        if (reason == null) {
            reason = firstDeath(headers).map(death -> text(death.get("reason"))).orElse(null);
        }
        return reason == null ? UNKNOWN_ERROR : reason;
    }

    /**
     * The tier the message came for, in this order: {@code x-original-tier} (set by the worker); the queue named in
     * the broker's {@code x-death} entries, {@code worker-service.<tier>} (or a priority lane
     * {@code worker-service.<tier>.<priority>}), then their routing keys {@code task.ready.<tier>[.<priority>]};
     * {@code x-first-death-queue}; the message's own routing key {@code task.ready.<tier>[.<priority>]}.
     * Whether the tier is configured is for the caller to check.
     */
    static Optional<String> tier(Map<String, Object> headers, String routingKey, Broker broker) {
        String original = text(headers.get(ORIGINAL_TIER));
        if (original != null) {
            return Optional.of(original);
        }
        Object deaths = headers.get("x-death");
        if (deaths instanceof List<?> list) {
            for (Object entry : list) {
                if (entry instanceof Map<?, ?> death) {
                    Optional<String> tier = tierOfQueue(text(death.get("queue")), broker);
                    if (tier.isPresent()) {
                        return tier;
                    }
                }
            }
            for (Object entry : list) {
                if (entry instanceof Map<?, ?> death && death.get("routing-keys") instanceof List<?> keys) {
                    for (Object key : keys) {
                        Optional<String> tier = tierOfRoutingKey(text(key), broker);
                        if (tier.isPresent()) {
                            return tier;
                        }
                    }
                }
            }
        }
        Optional<String> tier = tierOfQueue(text(headers.get("x-first-death-queue")), broker);
        return tier.isPresent() ? tier : tierOfRoutingKey(routingKey, broker);
    }

    private static Optional<String> tierOfQueue(String queue, Broker broker) {
        if (queue == null || !queue.startsWith(broker.queuePrefix()) || queue.equals(broker.deadLetterQueue())) {
            return Optional.empty();
        }
        return nonBlank(withoutLane(queue.substring(broker.queuePrefix().length())));
    }

    /** A priority lane's tier: {@code small.high} is tier {@code small} (tier names have no dots). */
    private static String withoutLane(String tierAndLane) {
        int dot = tierAndLane.indexOf('.');
        return dot < 0 ? tierAndLane : tierAndLane.substring(0, dot);
    }

    private static Optional<String> tierOfRoutingKey(String routingKey, Broker broker) {
        if (routingKey == null || !routingKey.startsWith(broker.readyRoutingKeyPrefix())) {
            return Optional.empty();
        }
        return nonBlank(withoutLane(routingKey.substring(broker.readyRoutingKeyPrefix().length())));
    }

    private static Optional<String> nonBlank(String value) {
        return value.isBlank() ? Optional.empty() : Optional.of(value);
    }

    @SuppressWarnings("unchecked")
    private static Optional<Map<String, Object>> firstDeath(Map<String, Object> headers) {
        if (headers.get("x-death") instanceof List<?> list && !list.isEmpty() && list.get(list.size() - 1) instanceof Map<?, ?> death) {
            // x-death lists the most recent death first
            return Optional.of((Map<String, Object>) death);
        }
        return Optional.empty();
    }

    /**
     * Headers of the task when it goes back to its tier queue: everything the producer sent, without the
     * dead-letter bookkeeping ({@code x-failure-*}, {@code x-original-tier}, the broker's {@code x-death},
     * {@code x-first-death-*}, {@code x-last-death-*}) and without the quorum queue's {@code x-delivery-count}, marked
     * {@code x-replayed}.
     */
    static Map<String, Object> replayHeaders(Map<String, Object> headers) {
        Map<String, Object> kept = new LinkedHashMap<>();
        headers.forEach((name, value) -> {
            String lower = name.toLowerCase(Locale.ROOT);
            if (!lower.startsWith(FAILURE_HEADER_PREFIX) && !lower.equals(ORIGINAL_TIER) && !lower.startsWith("x-death")
                    && !lower.startsWith("x-first-death-") && !lower.startsWith("x-last-death-")
                    && !lower.equals("x-delivery-count")) {
                kept.put(name, value);
            }
        });
        // an operator's explicit retry: the task store runs a failed task again for it (TaskStore.REPLAYED_HEADER)
        kept.put(io.dats.worker.store.TaskStore.REPLAYED_HEADER, "true");
        return kept;
    }

    /** Properties of the copy published to the tier queue: the original ones, persistent, with {@link #replayHeaders}. */
    AMQP.BasicProperties replayProperties() {
        return copy(replayHeaders(headers(properties)));
    }

    /**
     * Properties of the copy put back at the tail of the dead-letter queue: everything kept (the failure headers and
     * {@code x-death} included) but the quorum queue's delivery count.
     */
    AMQP.BasicProperties keepProperties() {
        Map<String, Object> headers = new LinkedHashMap<>(headers(properties));
        headers.remove("x-delivery-count");
        return copy(headers);
    }

    /**
     * The original properties, persistent; no expiration (a TTL would drop the copy: the dead-letter queue has no
     * dead-letter exchange of its own) and no user id (the broker checks it against the publishing connection's user).
     */
    private AMQP.BasicProperties copy(Map<String, Object> headers) {
        return new AMQP.BasicProperties.Builder()
                .contentType(properties.getContentType())
                .contentEncoding(properties.getContentEncoding())
                .headers(headers)
                .deliveryMode(2)
                .priority(properties.getPriority())
                .correlationId(properties.getCorrelationId())
                .replyTo(properties.getReplyTo())
                .messageId(properties.getMessageId())
                .timestamp(properties.getTimestamp())
                .type(properties.getType())
                .appId(properties.getAppId())
                .build();
    }

    static Map<String, Object> headers(AMQP.BasicProperties properties) {
        return properties.getHeaders() == null ? Map.of() : properties.getHeaders();
    }

    /** Header values arrive as {@code LongString}s; null or blank is no value. */
    static String text(Object value) {
        if (value == null) {
            return null;
        }
        String text = value instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8) : value.toString();
        return text.isBlank() ? null : text.trim();
    }
}
