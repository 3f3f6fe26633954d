package io.dats.worker.deadletter;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.ReturnListener;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Broker;
import org.apache.camel.Body;
import org.apache.camel.Exchange;
import org.apache.camel.Header;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Moves dead-lettered tasks back to their tier queues (routes/dead-letter-replay.camel.yaml; README "Replaying dead
 * letters").
 *
 * <p>One scan takes at most as many messages as the dead-letter queue held when it started (so it ends even while
 * new failures arrive), one at a time, with manual acknowledgement on one channel in confirm mode:
 * <ul>
 *   <li>a message that matches the filter is published to {@code task.events} as {@code task.ready.<tier>}
 *       (persistent, mandatory, its body and properties kept, the dead-letter headers dropped); once the broker
 *       confirmed it, and did not return it as unroutable, the taken message is acked;</li>
 *   <li>every other message (not matching, past the limit, or with a tier that is not configured) is published to
 *       the tail of the dead-letter queue unchanged and then acked: after a full scan the messages left are in their
 *       old relative order, and none was requeued (a requeue raises a quorum queue's delivery count, and RabbitMQ 4
 *       quorum queues drop a message past their default delivery limit of 20 when, as here, there is no dead-letter
 *       exchange behind them);</li>
 *   <li>a publish that is not confirmed (nack, timeout, returned as unroutable, channel closed) puts the taken
 *       message back unacked ({@code basic.nack} with requeue, or the broker's own return on channel close) and stops
 *       the scan with an error answer. The copy may still have arrived (RabbitMQ routes before it nacks): a duplicate,
 *       never a loss.</li>
 * </ul>
 * The listing is the same scan with nothing moved. One scan at a time per worker (409 otherwise).
 */
@Component("deadLetterReplay")
public class DeadLetterReplay {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterReplay.class);

    private final WorkerProperties properties;
    private final Broker broker;
    private final RabbitTemplate rabbit;
    private final ObjectMapper mapper;
    private final Duration confirmTimeout;
    private final ReentrantLock scanning = new ReentrantLock();

    DeadLetterReplay(WorkerProperties properties, ConnectionFactory connectionFactory, ObjectMapper mapper,
                     @Value("${worker.dead-letters.confirm-timeout:10s}") Duration confirmTimeout) {
        this.properties = properties;
        this.broker = properties.broker();
        this.rabbit = new RabbitTemplate(connectionFactory);
        this.mapper = mapper;
        this.confirmTimeout = confirmTimeout;
    }

    /** {@code POST /api/v1/admin/dead-letters/replay}: moves what matches the JSON filter, answers the counts. */
    public String replay(@Header(Exchange.CONTENT_TYPE) String contentType, @Body String body) throws JsonProcessingException {
        // JSON only, even with an empty body: a cross-site form (which cannot send JSON) must not replay everything
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw new DeadLetterApiException(415, "unsupported_media_type",
                    "send the filter as Content-Type: application/json", null);
        }
        ReplayFilter filter = ReplayFilter.parse(body, mapper);
        ReplayReport report = scan(filter);
        LOG.info("Dead-letter replay {}: {}", filter, report.replayAnswer());
        return mapper.writeValueAsString(report.replayAnswer());
    }

    /** {@code GET /api/v1/admin/dead-letters}: the dead letters counted by error kind and by tier; nothing moves. */
    public String list() throws JsonProcessingException {
        return mapper.writeValueAsString(scan(null).listingAnswer());
    }

    /** The JSON error answer {@code {"error", "detail", ...what was done}}; sets the HTTP status. */
    public String error(Exchange exchange) throws JsonProcessingException {
        Exception failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        Map<String, Object> answer = new LinkedHashMap<>();
        int status;
        if (failure instanceof DeadLetterApiException api) {
            status = api.status();
            answer.put("error", api.error());
            answer.put("detail", api.getMessage());
            answer.putAll(api.done());
        } else if (failure instanceof AmqpException) {
            status = 503;
            answer.put("error", "broker_unavailable");
            answer.put("detail", String.valueOf(failure.getMessage()));
        } else {
            status = 500;
            answer.put("error", "internal_error");
            answer.put("detail", failure == null ? "unknown" : String.valueOf(failure.getMessage()));
            LOG.error("Dead-letter request failed", failure);
        }
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        return mapper.writeValueAsString(answer);
    }

    /** One scan; {@code filter} null lists (keeps everything). */
    ReplayReport scan(ReplayFilter filter) {
        if (!scanning.tryLock()) {
            throw new DeadLetterApiException(409, "replay_in_progress",
                    "another replay or listing of the dead-letter queue is running; try again when it has finished", null);
        }
        try {
            ReplayReport report = new ReplayReport();
            String stopped;
            try {
                stopped = rabbit.execute(channel -> scan(channel, filter, report));
            } catch (AmqpException e) {
                // the channel closed: the broker put the message it held back in the dead-letter queue
                if (report.scanned() == 0) {
                    throw e;
                }
                stopped = "broker error: " + e.getMessage() + "; the message in hand is back in " + broker.deadLetterQueue();
            }
            if (stopped != null) {
                LOG.error("Dead-letter replay stopped: {} (so far {})", stopped, report.replayAnswer());
                throw new DeadLetterApiException(503, "replay_stopped", stopped,
                        filter == null ? report.listingAnswer() : report.replayAnswer());
            }
            return report;
        } finally {
            scanning.unlock();
        }
    }

    /** Returns null when the scan completed, or why it stopped (the message concerned is back in its queue). */
    String scan(Channel channel, ReplayFilter filter, ReplayReport report) throws IOException {
        channel.confirmSelect();
        AtomicReference<String> returned = new AtomicReference<>();
        ReturnListener onReturn = (replyCode, replyText, exchange, routingKey, props, body) ->
                returned.set("unroutable: " + exchange + " / " + routingKey + " (" + replyCode + " " + replyText + ")");
        channel.addReturnListener(onReturn);
        try {
            long count = channel.messageCount(broker.deadLetterQueue());
            for (long taken = 0; taken < count; taken++) {
                GetResponse message = channel.basicGet(broker.deadLetterQueue(), false);
                if (message == null) {
                    break;
                }
                String stopped;
                try {
                    stopped = take(channel, returned, message, filter, report);
                } catch (IOException | RuntimeException e) {
                    stopped = "failed on a message: " + e;
                }
                if (stopped != null) {
                    try {
                        channel.basicNack(message.getEnvelope().getDeliveryTag(), false, true);
                    } catch (IOException | RuntimeException e) {
                        // the channel is closed: the broker has put the unacknowledged message back itself
                    }
                    return stopped + "; the message is back in " + broker.deadLetterQueue();
                }
            }
            return null;
        } finally {
            channel.removeReturnListener(onReturn);
        }
    }

    /** Moves or keeps one taken message, then acks it; null when done, else why not (the caller puts it back). */
    private String take(Channel channel, AtomicReference<String> returned, GetResponse message, ReplayFilter filter,
                        ReplayReport report) throws IOException {
        DeadLetter letter = DeadLetter.of(message.getProps(), message.getEnvelope().getRoutingKey(), message.getBody(), broker);
        report.scanned(letter);
        String tier = letter.tier().orElse(null);
        boolean move = false;
        String skipReason = null;
        if (filter != null && filter.matches(letter) && report.moved() < filter.limit()) {
            if (tier == null) {
                skipReason = "no tier (no x-original-tier, x-death queue or task.ready routing key)";
            } else if (!properties.tiers().containsKey(tier)) {
                skipReason = "tier '" + tier + "' is not configured";
            } else {
                move = true;
            }
        }
        String failure = move
                ? publish(channel, returned, broker.exchange(), broker.readyRoutingKey(tier), letter.replayProperties(), letter.body())
                : publish(channel, returned, "", broker.deadLetterQueue(), letter.keepProperties(), letter.body());
        if (failure != null) {
            return (move ? "moving task " + letter.taskId() + " to " + broker.readyRoutingKey(tier)
                    : "keeping task " + letter.taskId() + " in " + broker.deadLetterQueue()) + ": " + failure;
        }
        channel.basicAck(message.getEnvelope().getDeliveryTag(), false);
        if (move) {
            report.moved(tier);
        } else if (skipReason != null) {
            report.skipped(skipReason);
        } else if (filter != null) {
            report.kept();
        }
        return null;
    }

    /** Publishes (mandatory) and waits for the confirm; null when confirmed and routed, else why not. */
    private String publish(Channel channel, AtomicReference<String> returned, String exchange, String routingKey,
                           AMQP.BasicProperties props, byte[] body) throws IOException {
        returned.set(null);
        channel.basicPublish(exchange, routingKey, true, props, body);
        try {
            if (!channel.waitForConfirms(confirmTimeout.toMillis())) {
                return "the broker refused the publish (nack)";
            }
        } catch (TimeoutException e) {
            return "no confirm within " + confirmTimeout;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while waiting for the confirm";
        }
        // a basic.return comes before the confirm on the channel's connection thread
        return returned.get();
    }
}
