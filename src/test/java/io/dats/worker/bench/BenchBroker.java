package io.dats.worker.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DeliverCallback;
import io.dats.worker.it.TestBroker;

/**
 * The machine's RabbitMQ seen through a virtual host of the benchmark's own (made with rabbitmqctl, deleted at exit):
 * the worker's topology declared with the worker's arguments (so tasks can be queued before the worker starts), a
 * publisher with confirms, and a draining consumer of the outcome events that notes when each task's outcome came.
 */
final class BenchBroker implements AutoCloseable {

    static final String HOST = System.getenv().getOrDefault("RABBITMQ_HOST", "127.0.0.1");
    static final int PORT = Integer.parseInt(System.getenv().getOrDefault("RABBITMQ_PORT", "5672"));

    final String vhost;
    private final Connection connection;
    private final Channel publisher;
    private final Channel consumer;
    /** Task id to System.nanoTime() when its outcome event arrived. */
    final Map<String, Long> outcomes = new ConcurrentHashMap<>();
    final AtomicInteger outputs = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    /** Arrival times of the outcome events in order (nanoTime). */
    final List<Long> arrivals = java.util.Collections.synchronizedList(new ArrayList<>());

    BenchBroker(String vhost) throws IOException, TimeoutException {
        this.vhost = vhost;
        TestBroker.rabbitmqctl("add_vhost", vhost);
        TestBroker.rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> TestBroker.rabbitmqctl("delete_vhost", vhost)));
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(HOST);
        factory.setPort(PORT);
        factory.setUsername("guest");
        factory.setPassword("guest");
        factory.setVirtualHost(vhost);
        connection = factory.newConnection("benchmark");
        publisher = connection.createChannel();
        publisher.confirmSelect();
        consumer = connection.createChannel();
    }

    /** task.events, the tier queues with the worker's arguments (BrokerTopology) and their bindings. */
    void declareTopology(List<String> tiers) throws IOException {
        publisher.exchangeDeclare("task.events", "topic", true);
        for (String tier : tiers) {
            String queue = "worker-service." + tier;
            publisher.queueDeclare(queue, true, false, false, Map.of(
                    "x-queue-type", "quorum",
                    "x-delivery-limit", 5,
                    "x-dead-letter-exchange", "task.dlx",
                    "x-dead-letter-strategy", "at-least-once",
                    "x-overflow", "reject-publish"));
            publisher.queueBind(queue, "task.events", "task.ready." + tier);
        }
    }

    /** A server-named queue bound to task.output.created and task.failed, drained with automatic acks. */
    void drainOutcomes() throws IOException {
        consumer.basicQos(1000);
        String queue = consumer.queueDeclare().getQueue();
        consumer.queueBind(queue, "task.events", "task.output.created");
        consumer.queueBind(queue, "task.events", "task.failed");
        DeliverCallback callback = (tag, delivery) -> {
            long now = System.nanoTime();
            String taskId = delivery.getProperties().getMessageId();
            if (taskId != null) {
                outcomes.putIfAbsent(taskId, now);
            }
            arrivals.add(now);
            if ("task.failed".equals(delivery.getEnvelope().getRoutingKey())) {
                failures.incrementAndGet();
            } else {
                outputs.incrementAndGet();
            }
        };
        consumer.basicConsume(queue, true, callback, tag -> { });
    }

    int outcomeCount() {
        return outputs.get() + failures.get();
    }

    /** Publishes a task as an orchestrator does (persistent JSON, task.ready.<tier>); confirms are awaited later. */
    void publish(String tier, String taskId, String json) throws IOException {
        AMQP.BasicProperties properties = new AMQP.BasicProperties.Builder()
                .contentType("application/json").deliveryMode(2).messageId(taskId).build();
        publisher.basicPublish("task.events", "task.ready." + tier, properties, json.getBytes(StandardCharsets.UTF_8));
    }

    void awaitConfirms() throws InterruptedException, TimeoutException, IOException {
        publisher.waitForConfirmsOrDie(60_000);
    }

    @Override
    public void close() {
        // bounded: a broker that does not answer the close (busy, or under a resource alarm) must not hang the run
        connection.abort(5_000);
    }
}
