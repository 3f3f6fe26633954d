package io.dats.worker.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.core.AnonymousQueue;
import org.springframework.amqp.core.Binding;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.amqp.rabbit.core.RabbitTemplate;

/**
 * The machine's RabbitMQ (127.0.0.1:5672 unless RABBITMQ_HOST/RABBITMQ_PORT say otherwise), seen through a fresh
 * virtual host made for this test run with {@code rabbitmqctl}. The virtual host is deleted as soon as its test is
 * done ({@link #close()}; for Spring tests {@link TestVirtualHosts} does it once the class's context is closed), and
 * at the latest when the JVM exits.
 *
 * <p>Deleting early matters: a RabbitMQ 3.10 node counts about three file handles per quorum queue against its
 * file-handle limit (927 under Debian's default {@code ulimit -n 1024}), and a worker declares some 25 queues per
 * virtual host. Thirty test classes' virtual hosts kept to the end exhausted the limit, and the node then left
 * {@code queue.declare} and {@code add_vhost} unanswered (the file handle cache makes them wait for a free handle).
 */
public final class TestBroker implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TestBroker.class);
    private static final Map<String, TestBroker> BROKERS = new ConcurrentHashMap<>();

    public final String host = System.getenv().getOrDefault("RABBITMQ_HOST", "127.0.0.1");
    public final int port = Integer.parseInt(System.getenv().getOrDefault("RABBITMQ_PORT", "5672"));
    public final String vhost;
    private final CachingConnectionFactory connectionFactory;
    private final AtomicBoolean closed = new AtomicBoolean();
    public final RabbitAdmin admin;
    public final RabbitTemplate template;

    private TestBroker(String vhost) {
        this.vhost = vhost;
        connectionFactory = new CachingConnectionFactory(host, port);
        connectionFactory.setUsername("guest");
        connectionFactory.setPassword("guest");
        connectionFactory.setVirtualHost(vhost);
        connectionFactory.setPublisherConfirmType(CachingConnectionFactory.ConfirmType.SIMPLE);
        admin = new RabbitAdmin(connectionFactory);
        template = new RabbitTemplate(connectionFactory);
        admin.declareExchange(new TopicExchange("task.events", true, false));
    }

    /** One fresh virtual host per test JVM, shared by every test class (so Spring can cache the contexts). */
    public static TestBroker shared() {
        return named("shared");
    }

    /**
     * A fresh virtual host for one Spring context configuration: cached contexts stay alive with their consumers,
     * so two differently configured workers must not share queues.
     */
    public static TestBroker named(String name) {
        return BROKERS.computeIfAbsent(name, key -> {
            String vhost = "llm-worker-it-" + key + "-" + UUID.randomUUID().toString().substring(0, 8);
            rabbitmqctl("add_vhost", vhost);
            rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
            TestBroker broker = new TestBroker(vhost);
            Runtime.getRuntime().addShutdownHook(new Thread(broker::close));
            LOG.info("Test virtual host {}", vhost);
            return broker;
        });
    }

    /** The open test broker that {@link #named} made for this name, if any. */
    static Optional<TestBroker> forVirtualHostNamed(String name) {
        return Optional.ofNullable(BROKERS.get(name));
    }

    /** The test broker that made this virtual host, if it is still open. */
    static Optional<TestBroker> forVirtualHost(String vhost) {
        return BROKERS.values().stream().filter(broker -> broker.vhost.equals(vhost)).findFirst();
    }

    /** Closes the test's connections and deletes its virtual host with all its queues (once; later calls do nothing). */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        BROKERS.values().remove(this);
        connectionFactory.destroy();
        long begin = System.nanoTime();
        try {
            rabbitmqctl("delete_vhost", vhost);
            LOG.info("Deleted test virtual host {} in {} ms", vhost,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin));
        } catch (IllegalStateException e) {
            LOG.warn("Could not delete test virtual host {}", vhost, e);
        }
    }

    /** {@code rabbitmqctl -q <args>} against the machine's broker (also used by the benchmark harness). */
    public static void rabbitmqctl(String... args) {
        List<String> command = new ArrayList<>(List.of("rabbitmqctl", "-q"));
        command.addAll(List.of(args));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException("rabbitmqctl " + String.join(" ", args) + " failed: " + output);
            }
        } catch (IOException e) {
            throw new IllegalStateException("rabbitmqctl is needed to make the virtual host (run bin/ensure-rabbitmq)", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A server-named queue bound to task.events with the given routing key: the test's view of the events. */
    public String listen(String routingKey) {
        Queue queue = new AnonymousQueue();
        admin.declareQueue(queue);
        admin.declareBinding(BindingBuilder.bind(queue).to(new TopicExchange("task.events", true, false)).with(routingKey));
        return queue.getName();
    }

    public void unbind(String queue, String exchange, String routingKey) {
        admin.removeBinding(new Binding(queue, Binding.DestinationType.QUEUE, exchange, routingKey, null));
    }

    /** Publishes a task as an orchestrator would: persistent JSON on task.events with task.ready.<tier>. */
    public void publishTask(String tier, String json) {
        publish("task.ready." + tier, MessageBuilder.withBody(json.getBytes(StandardCharsets.UTF_8))
                .setContentType("application/json")
                .setDeliveryMode(MessageDeliveryMode.PERSISTENT)
                .build());
    }

    public void publish(String routingKey, Message message) {
        Boolean confirmed = template.invoke(t -> {
            t.send("task.events", routingKey, message);
            return t.waitForConfirms(10_000);
        });
        if (!Boolean.TRUE.equals(confirmed)) {
            throw new IllegalStateException("publish to " + routingKey + " was not confirmed");
        }
    }

    public Message receive(String queue, Duration timeout) {
        return template.receive(queue, timeout.toMillis());
    }

    public List<Message> drain(String queue) {
        List<Message> messages = new ArrayList<>();
        for (Message m = template.receive(queue); m != null; m = template.receive(queue)) {
            messages.add(m);
        }
        return messages;
    }

    public long messageCount(String queue) {
        var info = admin.getQueueInfo(queue);
        return info == null ? -1 : info.getMessageCount();
    }

    public static String body(Message message) {
        return new String(message.getBody(), StandardCharsets.UTF_8);
    }
}
