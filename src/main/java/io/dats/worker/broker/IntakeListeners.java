package io.dats.worker.broker;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.camel.Endpoint;

import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.SimpleMessageListenerContainer;

/**
 * The listener containers of the spring-rabbitmq consumers, by endpoint: what Camel's own consumer check cannot see. A
 * Camel route stays Started while its container has no consumer left on the broker (the queue was deleted, or the
 * consumer was cancelled and could not come back), and such a tier takes no task although everything says UP.
 */
public class IntakeListeners {

    private final Map<Endpoint, AbstractMessageListenerContainer> containers = new ConcurrentHashMap<>();

    void created(Endpoint endpoint, AbstractMessageListenerContainer container) {
        containers.put(endpoint, container);
    }

    /** Consumers this endpoint's container has on the broker now, or empty if the endpoint has no container. */
    public Optional<Integer> activeConsumers(Endpoint endpoint) {
        AbstractMessageListenerContainer container = containers.get(endpoint);
        if (container == null) {
            return Optional.empty();
        }
        if (!container.isRunning()) {
            return Optional.of(0);
        }
        return Optional.of(container instanceof SimpleMessageListenerContainer simple
                ? simple.getActiveConsumerCount() : 1);
    }

    /** The queues the endpoint's container consumes from. */
    public String queues(Endpoint endpoint) {
        AbstractMessageListenerContainer container = containers.get(endpoint);
        return container == null ? "" : String.join(",", container.getQueueNames());
    }
}
