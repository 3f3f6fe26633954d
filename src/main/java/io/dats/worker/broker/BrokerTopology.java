package io.dats.worker.broker;

import java.util.ArrayList;
import java.util.List;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Broker;
import io.dats.worker.priority.Priority;

import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Declarable;
import org.springframework.amqp.core.Declarables;
import org.springframework.amqp.core.ExchangeBuilder;
import org.springframework.amqp.core.FanoutExchange;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The worker's RabbitMQ topology, declared idempotently by Spring's RabbitAdmin on every (re)connection.
 * Tier queues (one per tier and priority lane) are quorum queues with a delivery limit and at-least-once
 * dead-lettering to {@code task.dlx}.
 */
@Configuration(proxyBeanMethods = false)
class BrokerTopology {

    /** Routing key of everything sent to the dead-letter exchange is kept; the queue takes them all. */
    static final String DEAD_LETTER_BINDING = "#";

    @Bean
    Declarables workerTopology(WorkerProperties properties) {
        Broker broker = properties.broker();
        List<Declarable> declarables = new ArrayList<>();

        TopicExchange events = ExchangeBuilder.topicExchange(broker.exchange()).durable(true).build();
        TopicExchange deadLetters = ExchangeBuilder.topicExchange(broker.deadLetterExchange()).durable(true).build();
        Queue deadLetterQueue = QueueBuilder.durable(broker.deadLetterQueue()).quorum().build();
        declarables.add(events);
        declarables.add(deadLetters);
        declarables.add(deadLetterQueue);
        declarables.add(BindingBuilder.bind(deadLetterQueue).to(deadLetters).with(DEAD_LETTER_BINDING));

        // the alternate exchange that a broker policy gives task.events (README "Unroutable outcomes"): what no queue
        // is bound for lands in worker-service.unrouted instead of nowhere
        FanoutExchange unrouted = ExchangeBuilder.fanoutExchange(broker.unroutedExchange()).durable(true).build();
        Queue unroutedQueue = QueueBuilder.durable(broker.unroutedQueue()).quorum().build();
        declarables.add(unrouted);
        declarables.add(unroutedQueue);
        declarables.add(BindingBuilder.bind(unroutedQueue).to(unrouted));

        // every tier has one lane per priority (README "Priority"): worker-service.<tier> with task.ready.<tier> is
        // the normal lane producers publish to; worker-service.<tier>.<priority> with task.ready.<tier>.<priority>
        for (String tier : properties.tiers().keySet()) {
            for (Priority priority : Priority.values()) {
                Queue queue = tierQueue(broker, tier, priority);
                Binding binding = BindingBuilder.bind(queue).to(events).with(broker.readyRoutingKey(tier, priority));
                declarables.add(queue);
                declarables.add(binding);
            }
        }
        return new Declarables(declarables);
    }

    /** Quorum queue arguments cannot change once declared: a mismatch fails the start with a 406 from the broker. */
    static Queue tierQueue(Broker broker, String tier, Priority priority) {
        return QueueBuilder.durable(broker.queue(tier, priority))
                .quorum()
                .deliveryLimit(broker.deliveryLimit())
                .deadLetterExchange(broker.deadLetterExchange())
                .withArgument("x-dead-letter-strategy", "at-least-once")
                .overflow(QueueBuilder.Overflow.rejectPublish)
                .build();
    }
}
