package io.dats.worker.it;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.springframework.amqp.core.Message;

import org.awaitility.Awaitility;

/** Collects the messages of one queue by their {@code task_id} (raw body when it is not JSON). */
final class EventInbox {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final TestBroker broker;
    private final String queue;
    private final Map<String, List<Message>> byTask = new ConcurrentHashMap<>();

    private EventInbox(TestBroker broker, String queue) {
        this.broker = broker;
        this.queue = queue;
    }

    /** A new queue bound to task.events with the routing key, e.g. task.output.created. */
    static EventInbox events(TestBroker broker, String routingKey) {
        return new EventInbox(broker, broker.listen(routingKey));
    }

    /** An existing queue, e.g. worker-service.dead-letter. */
    static EventInbox queue(TestBroker broker, String queue) {
        return new EventInbox(broker, queue);
    }

    private synchronized void pump() {
        for (Message m = broker.template.receive(queue); m != null; m = broker.template.receive(queue)) {
            byTask.computeIfAbsent(keyOf(m), k -> new CopyOnWriteArrayList<>()).add(m);
        }
    }

    static String keyOf(Message message) {
        String body = TestBroker.body(message);
        try {
            JsonNode json = MAPPER.readTree(body);
            if (json != null && json.path("task_id").isTextual()) {
                return json.path("task_id").asText();
            }
        } catch (Exception e) {
            // not JSON: the body is the key
        }
        return body;
    }

    /** Waits for the first message of the task and returns it. */
    Message await(String taskId, Duration timeout) {
        Awaitility.await().atMost(timeout).pollInterval(Duration.ofMillis(100)).until(() -> {
            pump();
            return byTask.containsKey(taskId);
        });
        return byTask.get(taskId).get(0);
    }

    JsonNode awaitJson(String taskId, Duration timeout) {
        try {
            return MAPPER.readTree(TestBroker.body(await(taskId, timeout)));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Everything received so far, by task. */
    Map<String, List<Message>> received() {
        pump();
        return byTask;
    }

    List<Message> of(String taskId) {
        pump();
        return byTask.getOrDefault(taskId, List.of());
    }

    String queueName() {
        return queue;
    }
}
