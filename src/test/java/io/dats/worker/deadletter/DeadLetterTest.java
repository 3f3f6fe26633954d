package io.dats.worker.deadletter;

import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.impl.LongStringHelper;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties.Broker;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class DeadLetterTest {

    /** The committed config/application.yaml (worker-service.<tier>, task.ready.<tier>, worker-service.dead-letter). */
    static final Broker BROKER = TestWorkerProperties.defaults().broker();

    /** Header values as the RabbitMQ client delivers them: strings are LongStrings. */
    static Object ls(String value) {
        return LongStringHelper.asLongString(value);
    }

    static Map<String, Object> brokerDeath(String queue, String routingKey, String reason) {
        Map<String, Object> death = new HashMap<>();
        death.put("queue", ls(queue));
        death.put("reason", ls(reason));
        death.put("exchange", ls("task.events"));
        death.put("routing-keys", List.of(ls(routingKey)));
        death.put("count", 1L);
        return death;
    }

    @Test
    void tierComesFromTheWorkersOriginalTierHeaderFirst() {
        Map<String, Object> headers = Map.of("x-original-tier", ls("coding"),
                "x-death", List.of(brokerDeath("worker-service.small", "task.ready.small", "rejected")));
        assertThat(DeadLetter.tier(headers, "task.ready.tiny", BROKER)).contains("coding");
    }

    @Test
    void blankOriginalTierFallsBackToTheRoutingKey() {
        assertThat(DeadLetter.tier(Map.of("x-original-tier", ls("  ")), "task.ready.large", BROKER)).contains("large");
    }

    @Test
    void tierOfABrokerDeadLetterComesFromTheQueueInXDeath() {
        Map<String, Object> headers = Map.of("x-death", List.of(brokerDeath("worker-service.large", "task.ready.other", "delivery_limit")));
        assertThat(DeadLetter.tier(headers, "worker-service.dead-letter", BROKER)).contains("large");
    }

    @Test
    void tierOfABrokerDeadLetterFromAPriorityLaneIsTheLanesTier() {
        Map<String, Object> headers = Map.of("x-death", List.of(brokerDeath("worker-service.large.critical",
                "task.ready.large.critical", "delivery_limit")));
        assertThat(DeadLetter.tier(headers, "worker-service.dead-letter", BROKER)).contains("large");
        Map<String, Object> byKey = Map.of("x-death", List.of(brokerDeath("some-other-queue", "task.ready.tiny.low", "rejected")));
        assertThat(DeadLetter.tier(byKey, "worker-service.dead-letter", BROKER)).contains("tiny");
    }

    @Test
    void tierOfABrokerDeadLetterFallsBackToTheXDeathRoutingKey() {
        Map<String, Object> headers = Map.of("x-death", List.of(brokerDeath("some-other-queue", "task.ready.tiny", "rejected")));
        assertThat(DeadLetter.tier(headers, "worker-service.dead-letter", BROKER)).contains("tiny");
    }

    @Test
    void deadLetterQueueItselfNamesNoTier() {
        Map<String, Object> headers = Map.of("x-death", List.of(brokerDeath("worker-service.dead-letter", "worker-service.dead-letter", "expired")),
                "x-first-death-queue", ls("worker-service.frontier"));
        assertThat(DeadLetter.tier(headers, "worker-service.dead-letter", BROKER)).contains("frontier");
    }

    @Test
    void tierFromXFirstDeathQueue() {
        assertThat(DeadLetter.tier(Map.of("x-first-death-queue", ls("worker-service.coding")), null, BROKER)).contains("coding");
    }

    @Test
    void noTierWhenNothingNamesOne() {
        assertThat(DeadLetter.tier(Map.of(), "worker-service.dead-letter", BROKER)).isEmpty();
        assertThat(DeadLetter.tier(Map.of(), "task.ready.", BROKER)).isEmpty();
        assertThat(DeadLetter.tier(Map.of("x-first-death-queue", ls("worker-service.")), null, BROKER)).isEmpty();
    }

    @Test
    void errorKindIsTheWorkersFailureElseTheBrokersReason() {
        assertThat(DeadLetter.errorKind(Map.of("x-failure-error", ls("llm_failed"), "x-first-death-reason", ls("rejected"))))
                .isEqualTo("llm_failed");
        assertThat(DeadLetter.errorKind(Map.of("x-first-death-reason", ls("delivery_limit")))).isEqualTo("delivery_limit");
        assertThat(DeadLetter.errorKind(Map.of("x-death", List.of(brokerDeath("worker-service.small", "task.ready.small", "expired"),
                brokerDeath("worker-service.small", "task.ready.small", "rejected"))))).isEqualTo("rejected");
        assertThat(DeadLetter.errorKind(Map.of())).isEqualTo("unknown");
    }

    @Test
    void taskIdFromTheBodyElseTheMessageId() {
        assertThat(DeadLetter.taskId("{\"task_id\":\"t-1\"}".getBytes(StandardCharsets.UTF_8), "m-1")).isEqualTo("t-1");
        assertThat(DeadLetter.taskId("not json".getBytes(StandardCharsets.UTF_8), "m-1")).isEqualTo("m-1");
        assertThat(DeadLetter.taskId("{\"task_id\":7}".getBytes(StandardCharsets.UTF_8), null)).isNull();
    }

    @Test
    void replayDropsTheDeadLetterHeadersAndKeepsTheProducersProperties() {
        Map<String, Object> headers = new HashMap<>();
        headers.put("x-failure-error", ls("llm_failed"));
        headers.put("x-failure-reason", ls("boom"));
        headers.put("x-original-tier", ls("small"));
        headers.put("x-death", List.of(brokerDeath("worker-service.small", "task.ready.small", "rejected")));
        headers.put("x-first-death-queue", ls("worker-service.small"));
        headers.put("x-first-death-reason", ls("rejected"));
        headers.put("x-first-death-exchange", ls("task.events"));
        headers.put("x-last-death-queue", ls("worker-service.small"));
        headers.put("x-delivery-count", 3L);
        headers.put("x-trace-id", ls("trace-9"));
        headers.put("priority-hint", 2);
        Date timestamp = new Date(1_700_000_000_000L);
        AMQP.BasicProperties original = new AMQP.BasicProperties.Builder()
                .contentType("application/json").contentEncoding("UTF-8").messageId("t-1").correlationId("c-1")
                .timestamp(timestamp).type("task").appId("orchestrator").userId("guest").expiration("60000")
                .deliveryMode(1).headers(headers).build();
        DeadLetter letter = DeadLetter.of(original, "task.ready.small", "{\"task_id\":\"t-1\"}".getBytes(StandardCharsets.UTF_8), BROKER);

        AMQP.BasicProperties replayed = letter.replayProperties();
        assertThat(replayed.getHeaders()).containsOnlyKeys("x-trace-id", "priority-hint", "x-replayed");
        assertThat(replayed.getContentType()).isEqualTo("application/json");
        assertThat(replayed.getContentEncoding()).isEqualTo("UTF-8");
        assertThat(replayed.getMessageId()).isEqualTo("t-1");
        assertThat(replayed.getCorrelationId()).isEqualTo("c-1");
        assertThat(replayed.getTimestamp()).isEqualTo(timestamp);
        assertThat(replayed.getType()).isEqualTo("task");
        assertThat(replayed.getAppId()).isEqualTo("orchestrator");
        assertThat(replayed.getDeliveryMode()).isEqualTo(2);
        assertThat(replayed.getExpiration()).isNull();
        assertThat(replayed.getUserId()).isNull();

        AMQP.BasicProperties kept = letter.keepProperties();
        assertThat(kept.getHeaders()).doesNotContainKey("x-delivery-count")
                .containsKeys("x-failure-error", "x-failure-reason", "x-original-tier", "x-death", "x-first-death-queue", "x-trace-id");
        assertThat(kept.getMessageId()).isEqualTo("t-1");
        assertThat(kept.getDeliveryMode()).isEqualTo(2);
        assertThat(kept.getExpiration()).isNull();

        assertThat(letter.taskId()).isEqualTo("t-1");
        assertThat(letter.error()).isEqualTo("llm_failed");
        assertThat(letter.tier()).contains("small");
    }
}
