package io.dats.worker.it;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.QueueBuilder;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.amqp.rabbit.connection.CachingConnectionFactory;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.amqp.rabbit.core.RabbitTemplate;
import org.springframework.amqp.support.converter.SimpleMessageConverter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * One scenario of the fault suite on one virtual host: publishes uniquely identified tasks with publisher confirms and
 * records the confirmed ids, collects every outcome ({@code task.output.created}, {@code task.failed}) from durable
 * queues of its own, waits for quiet, drains the outcome, unrouted ({@code worker-service.unrouted}) and dead-letter
 * queues, and checks: every confirmed id has exactly one kind of terminal outcome, none has two different outcomes,
 * nothing is left unrouted (unless the scenario expects it). Prints one figures line.
 */
final class FaultRun implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FaultRun.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();
    static final String DEAD_LETTER = "worker-service.dead-letter";
    static final String UNROUTED = "worker-service.unrouted";

    final String scenario;
    private final CachingConnectionFactory connectionFactory;
    final RabbitAdmin admin;
    final RabbitTemplate template;
    private final String outputsQueue;
    private final String failedQueue;
    private final Set<String> confirmed = ConcurrentHashMap.newKeySet();
    private final Set<String> expectedFailures = ConcurrentHashMap.newKeySet();
    private final AtomicInteger published = new AtomicInteger();
    private final Map<String, List<String>> outcomes = new ConcurrentHashMap<>();
    private final List<Message> anonymousFailures = new CopyOnWriteArrayList<>();
    private final Map<String, Message> deadLetters = new ConcurrentHashMap<>();
    private final List<Message> unrouted = new CopyOnWriteArrayList<>();
    private Duration drainTime;
    private boolean failuresAllowed;

    /**
     * @param bindOutputs whether the run listens to task.output.created (false: the "no consumer bound" scenario,
     *                    whose outputs must land in worker-service.unrouted)
     */
    FaultRun(String scenario, String host, int port, String vhost, boolean bindOutputs) {
        this.scenario = scenario;
        connectionFactory = new CachingConnectionFactory(host, port);
        connectionFactory.setUsername("guest");
        connectionFactory.setPassword("guest");
        connectionFactory.setVirtualHost(vhost);
        connectionFactory.setPublisherConfirmType(CachingConnectionFactory.ConfirmType.CORRELATED);
        admin = new RabbitAdmin(connectionFactory);
        template = new RabbitTemplate(connectionFactory);
        template.setMessageConverter(new SimpleMessageConverter());
        TopicExchange events = new TopicExchange("task.events", true, false);
        admin.declareExchange(events);
        // durable: they must outlive a broker restart
        outputsQueue = bindOutputs ? declare("faults." + scenario + ".outputs", events, "task.output.created") : null;
        failedQueue = declare("faults." + scenario + ".failed", events, "task.failed");
    }

    private String declare(String name, TopicExchange events, String routingKey) {
        Queue queue = QueueBuilder.durable(name).build();
        admin.declareQueue(queue);
        admin.purgeQueue(name, false);
        admin.declareBinding(BindingBuilder.bind(queue).to(events).with(routingKey));
        return name;
    }

    /** A well-formed task for the tier; the task id is also the AMQP message id. */
    static Message task(String taskId, String tier) {
        String body = "{\"task_id\":\"" + taskId + "\",\"domain\":\"code-general\",\"tier\":\"" + tier
                + "\",\"description\":\"Create fibonacci function " + taskId + "\"}";
        return message(taskId, body);
    }

    static Message message(String taskId, String body) {
        Message message = new Message(body.getBytes(StandardCharsets.UTF_8));
        message.getMessageProperties().setContentType("application/json");
        message.getMessageProperties().setDeliveryMode(MessageDeliveryMode.PERSISTENT);
        message.getMessageProperties().setMessageId(taskId);
        return message;
    }

    /**
     * Publishes the messages made for 0..count-1 to task.ready.&lt;tier&gt;, each confirmed by the broker before the
     * next (a publish that is not confirmed, e.g. while the broker restarts, is retried until it is).
     */
    void publish(int count, String tier, IntFunction<Message> maker) {
        for (int i = 0; i < count; i++) {
            Message message = maker.apply(i);
            String id = message.getMessageProperties().getMessageId();
            published.incrementAndGet();
            // a publish that is not confirmed (e.g. while the broker restarts) is tried again every 500 ms for 2 min
            await().atMost(Duration.ofMinutes(2)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(500))
                    .until(() -> {
                        try {
                            Boolean ok = template.invoke(t -> {
                                t.send("task.events", "task.ready." + tier, message);
                                return t.waitForConfirms(10_000);
                            });
                            if (Boolean.TRUE.equals(ok)) {
                                confirmed.add(id);
                                return true;
                            }
                            LOG.info("{}: publish of {} nacked, again", scenario, id);
                        } catch (RuntimeException e) {
                            LOG.info("{}: publish of {} not confirmed ({}), again", scenario, id, e.getMessage());
                        }
                        return false;
                    });
        }
    }

    /** Ids whose message is broken on purpose: they must end failed (task.failed and/or a dead-letter copy). */
    void expectFailure(String id) {
        expectedFailures.add(id);
    }

    /** Receives what has arrived so far. */
    synchronized void pump() {
        if (outputsQueue != null) {
            for (Message m = receive(outputsQueue); m != null; m = receive(outputsQueue)) {
                outcomes.computeIfAbsent(taskId(m), k -> new CopyOnWriteArrayList<>()).add("completed");
            }
        }
        for (Message m = receive(failedQueue); m != null; m = receive(failedQueue)) {
            String id = taskId(m);
            if (id == null) {
                anonymousFailures.add(m);
            } else {
                outcomes.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add("failed");
            }
        }
        for (Message m = receive(DEAD_LETTER); m != null; m = receive(DEAD_LETTER)) {
            deadLetters.put(String.valueOf(m.getMessageProperties().getMessageId()), m);
        }
        for (Message m = receive(UNROUTED); m != null; m = receive(UNROUTED)) {
            unrouted.add(m);
        }
    }

    private Message receive(String queue) {
        try {
            return template.receive(queue);
        } catch (RuntimeException e) {
            // the broker is restarting, or the queue is not declared yet
            return null;
        }
    }

    /** Confirmed ids that have an outcome (an event, or a dead-letter copy of a message without a task id). */
    int accounted() {
        pump();
        int n = 0;
        for (String id : confirmed) {
            if (outcomes.containsKey(id) || deadLetters.containsKey(id) || unroutedIds().contains(id)) {
                n++;
            }
        }
        return n;
    }

    /** Failures received so far: task.failed events (with or without a task id) and dead-letter copies. */
    long failuresSoFar() {
        pump();
        return deadLetters.size() + anonymousFailures.size()
                + outcomes.values().stream().filter(kinds -> kinds.contains("failed")).count();
    }

    int confirmedCount() {
        return confirmed.size();
    }

    /**
     * Waits until every confirmed id is accounted for and nothing new arrived for {@code settle}, or until nothing
     * new arrived for {@code stall} (then the check reports what was lost).
     */
    void awaitQuiet(Duration settle, Duration stall) {
        AtomicInteger last = new AtomicInteger(-1);
        AtomicLong lastChange = new AtomicLong(System.nanoTime());
        await().forever().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(250)).until(() -> {
            int now = accounted() + anonymousFailures.size() + unrouted.size()
                    + outcomes.values().stream().mapToInt(List::size).sum();
            if (now != last.getAndSet(now)) {
                lastChange.set(System.nanoTime());
            }
            long quietFor = System.nanoTime() - lastChange.get();
            if (accounted() == confirmed.size() && quietFor >= settle.toNanos()) {
                return true;
            }
            if (quietFor >= stall.toNanos()) {
                LOG.warn("{}: no progress for {} s with {}/{} accounted", scenario, stall.toSeconds(), accounted(),
                        confirmed.size());
                return true;
            }
            return false;
        });
    }

    /** Failures of well-formed tasks are outcomes in this scenario (e.g. every attempt of a flaky LLM failed). */
    void allowFailures() {
        failuresAllowed = true;
    }

    void drainTime(Duration time) {
        this.drainTime = time;
    }

    private Set<String> unroutedIds() {
        Set<String> ids = new HashSet<>();
        for (Message m : unrouted) {
            ids.add(taskId(m));
        }
        return ids;
    }

    /**
     * Checks the run and prints its figures line. {@code outputsUnrouted}: the scenario has nothing bound to
     * task.output.created, so every output must be in worker-service.unrouted instead (and nothing else there).
     */
    Figures check(boolean outputsUnrouted) {
        pump();
        Map<String, List<String>> byId = new HashMap<>();
        outcomes.forEach((id, kinds) -> byId.put(id, new ArrayList<>(kinds)));
        for (Message m : unrouted) {
            String routingKey = m.getMessageProperties().getReceivedRoutingKey();
            byId.computeIfAbsent(taskId(m), k -> new ArrayList<>())
                    .add("task.failed".equals(routingKey) ? "failed" : "completed");
        }
        int completed = 0;
        int failed = 0;
        int duplicated = 0;
        int lost = 0;
        Set<String> twoOutcomes = new LinkedHashSet<>();
        Set<String> lostIds = new LinkedHashSet<>();
        Set<String> unexpectedFailures = new LinkedHashSet<>();
        for (String id : confirmed) {
            List<String> kinds = byId.getOrDefault(id, List.of());
            if (kinds.isEmpty() && deadLetters.containsKey(id)) {
                // a message without a readable task id: its task.failed event carries none, its dead-letter copy
                // keeps the message id and the failure reason
                kinds = List.of("failed");
            }
            if (kinds.isEmpty()) {
                lost++;
                lostIds.add(id);
                continue;
            }
            if (new HashSet<>(kinds).size() > 1) {
                twoOutcomes.add(id);
            }
            if (kinds.size() > 1) {
                duplicated++;
            }
            if (kinds.contains("completed")) {
                completed++;
            } else {
                failed++;
                if (!expectedFailures.contains(id) && !failuresAllowed) {
                    unexpectedFailures.add(id);
                }
            }
        }
        Figures figures = new Figures(scenario, published.get(), confirmed.size(), completed, failed, duplicated, lost,
                drainTime);
        System.out.println(figures.line());
        LOG.info(figures.line());
        assertThat(lostIds).as(scenario + ": confirmed tasks without an outcome").isEmpty();
        assertThat(twoOutcomes).as(scenario + ": tasks with two different outcomes").isEmpty();
        assertThat(unexpectedFailures).as(scenario + ": tasks that failed although nothing was wrong with them")
                .isEmpty();
        for (String id : expectedFailures) {
            if (confirmed.contains(id)) {
                Message copy = deadLetters.get(id);
                if (copy != null) {
                    assertThat(copy.getMessageProperties().getHeaders()).as(scenario + ": reason of " + id)
                            .containsKey("x-failure-reason");
                }
            }
        }
        if (!outputsUnrouted) {
            assertThat(unrouted).as(scenario + ": outcomes left in " + UNROUTED).isEmpty();
        } else {
            assertThat(unrouted).as(scenario + ": outputs kept in " + UNROUTED).isNotEmpty();
        }
        return figures;
    }

    private static String taskId(Message message) {
        try {
            JsonNode json = MAPPER.readTree(message.getBody());
            if (json != null && json.path("task_id").isTextual()) {
                return json.path("task_id").asText();
            }
        } catch (Exception e) {
            // not JSON
        }
        return null;
    }

    @Override
    public void close() {
        // the next scenario on this virtual host must not find this one's queues bound
        try {
            if (outputsQueue != null) {
                admin.deleteQueue(outputsQueue);
            }
            admin.deleteQueue(failedQueue);
        } catch (RuntimeException e) {
            LOG.warn("{}: could not delete its queues: {}", scenario, e.getMessage());
        }
        connectionFactory.destroy();
    }

    /** One scenario's figures. */
    record Figures(String scenario, int published, int confirmed, int completed, int failed, int duplicated, int lost,
                   Duration drainTime) {

        String line() {
            return String.format("faults %-22s published=%d confirmed=%d completed=%d failed=%d duplicated=%d lost=%d "
                            + "duplicate-rate=%.2f%% drain=%s", scenario, published, confirmed, completed, failed,
                    duplicated, lost, confirmed == 0 ? 0.0 : 100.0 * duplicated / confirmed,
                    drainTime == null ? "-" : String.format("%.1fs", drainTime.toMillis() / 1000.0));
        }
    }
}
