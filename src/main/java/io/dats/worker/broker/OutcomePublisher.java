package io.dats.worker.broker;

import java.io.IOException;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.ReturnListener;
import io.dats.worker.task.OutcomePublishException;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import org.apache.camel.Exchange;
import org.apache.camel.component.springrabbit.SpringRabbitMQConstants;

import org.springframework.amqp.AmqpException;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.stereotype.Component;

/**
 * Publishes a task's outcome (task.output.created, task.failed, the dead-letter copy) <em>mandatory</em> and waits for
 * the broker's confirm: a message that no queue receives comes back as a return and fails the publish, so an outcome is
 * never confirmed into nothing. (camel-spring-rabbitmq 4.17's producer has no mandatory option and counts a returned
 * message as sent; that is the reason this step is a bean and not a {@code to: spring-rabbitmq:} endpoint.)
 *
 * <p>The message is the Camel message: its body, and its AMQP properties from the {@code CamelSpringRabbitmq*} headers
 * the routes set or the consumer mapped from the original delivery (content type and encoding, message id, correlation
 * id, timestamp, type, app id, priority, delivery mode, routing key override). Every other header not starting with
 * {@code camel} (any case) goes along as an AMQP header.
 */
@Component("outcomePublisher")
public class OutcomePublisher {

    static final long CONFIRM_TIMEOUT_MS = 10_000;

    private final RabbitTemplate template;

    OutcomePublisher(ConnectionFactory connectionFactory) {
        this.template = new RabbitTemplate(connectionFactory);
    }

    public void publish(Exchange exchange, String exchangeName, String routingKey) {
        org.apache.camel.Message message = exchange.getMessage();
        byte[] body = message.getBody(byte[].class);
        if (body == null) {
            body = new byte[0];
        }
        String key = message.getHeader(SpringRabbitMQConstants.ROUTING_OVERRIDE_KEY, routingKey, String.class);
        AMQP.BasicProperties properties = properties(message);
        send(exchangeName, key, properties, body);
    }

    /**
     * Publishes one message mandatory and waits for the broker's confirm; throws {@link OutcomePublishException} when
     * the broker nacks it, does not confirm it in time, or returns it (no queue bound for the routing key).
     */
    public void send(String exchangeName, String key, AMQP.BasicProperties properties, byte[] payload) {
        try {
            template.execute(channel -> {
                AtomicReference<String> returned = new AtomicReference<>();
                ReturnListener listener = (replyCode, replyText, returnedExchange, returnedKey, props, returnedBody) ->
                        returned.set(replyCode + " " + replyText);
                channel.addReturnListener(listener);
                try {
                    channel.basicPublish(exchangeName, key, true, properties, payload);
                    channel.waitForConfirmsOrDie(CONFIRM_TIMEOUT_MS);
                } catch (TimeoutException e) {
                    throw new OutcomePublishException("the broker did not confirm the publish to " + exchangeName
                            + " with " + key + " within " + CONFIRM_TIMEOUT_MS + " ms");
                } catch (IOException e) {
                    throw new OutcomePublishException("the broker refused the publish to " + exchangeName + " with "
                            + key + " (nack: a queue at its limit, or the channel closed): " + e.getMessage());
                } finally {
                    channel.removeReturnListener(listener);
                }
                if (returned.get() != null) {
                    throw new OutcomePublishException("no queue is bound to " + exchangeName + " for " + key
                            + ": the broker returned the message (" + returned.get() + ")");
                }
                return null;
            });
        } catch (AmqpException e) {
            OutcomePublishException cause = findCause(e);
            throw cause != null ? cause : new OutcomePublishException("the publish to " + exchangeName + " with " + key
                    + " failed: " + e.getMessage());
        }
    }

    private static OutcomePublishException findCause(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof OutcomePublishException publish) {
                return publish;
            }
        }
        return null;
    }

    static AMQP.BasicProperties properties(org.apache.camel.Message message) {
        Map<String, Object> headers = new LinkedHashMap<>();
        message.getHeaders().forEach((name, value) -> {
            if (!name.toLowerCase(Locale.ROOT).startsWith("camel") && value != null && isAmqpValue(value)) {
                headers.put(name, value);
            }
        });
        // the current trace (the publishing route's span) as W3C traceparent, so consumers continue the task's trace;
        // nothing when tracing is off
        W3CTraceContextPropagator.getInstance().inject(Context.current(), headers, Map::put);
        String deliveryMode = message.getHeader(SpringRabbitMQConstants.DELIVERY_MODE, "PERSISTENT", String.class);
        Object timestamp = message.getHeader(SpringRabbitMQConstants.TIMESTAMP);
        return new AMQP.BasicProperties.Builder()
                .contentType(message.getHeader(SpringRabbitMQConstants.CONTENT_TYPE, String.class))
                .contentEncoding(message.getHeader(SpringRabbitMQConstants.CONTENT_ENCODING, String.class))
                .messageId(message.getHeader(SpringRabbitMQConstants.MESSAGE_ID, String.class))
                .correlationId(message.getHeader(SpringRabbitMQConstants.CORRELATION_ID, String.class))
                .type(message.getHeader(SpringRabbitMQConstants.TYPE, String.class))
                .appId(message.getHeader(SpringRabbitMQConstants.APP_ID, String.class))
                .priority(message.getHeader(SpringRabbitMQConstants.PRIORITY, Integer.class))
                .timestamp(timestamp instanceof Date date ? date : new Date())
                .deliveryMode("NON_PERSISTENT".equalsIgnoreCase(deliveryMode) || "1".equals(deliveryMode) ? 1 : 2)
                .headers(headers.isEmpty() ? null : headers)
                .build();
    }

    /** What the AMQP client can put in a header table. */
    private static boolean isAmqpValue(Object value) {
        return value instanceof String || value instanceof Number || value instanceof Boolean || value instanceof Date
                || value instanceof byte[] || value instanceof java.util.List || value instanceof Map
                || value instanceof com.rabbitmq.client.LongString;
    }
}
