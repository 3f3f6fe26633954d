package io.dats.worker.deadletter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.GetResponse;
import com.rabbitmq.client.impl.LongStringHelper;
import io.dats.worker.config.TestWorkerProperties;
import org.junit.jupiter.api.Test;
import org.mockito.InOrder;

import org.springframework.amqp.rabbit.connection.ConnectionFactory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyBoolean;
import static org.mockito.ArgumentMatchers.anyLong;
import static org.mockito.ArgumentMatchers.anyString;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.inOrder;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

/** The order of the broker operations of one scan, on a mocked channel: publish, confirm, then ack; else nack. */
class DeadLetterReplayTest {

    static final String DLQ = "worker-service.dead-letter";

    final Channel channel = mock(Channel.class);
    final DeadLetterReplay replay = new DeadLetterReplay(TestWorkerProperties.defaults(), mock(ConnectionFactory.class),
            new ObjectMapper(), Duration.ofSeconds(1));

    static GetResponse deadLetter(long tag, String taskId, String error, String tier) {
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().contentType("application/json")
                .headers(Map.of("x-failure-error", LongStringHelper.asLongString(error),
                        "x-original-tier", LongStringHelper.asLongString(tier)))
                .build();
        byte[] body = ("{\"task_id\":\"" + taskId + "\"}").getBytes(StandardCharsets.UTF_8);
        return new GetResponse(new Envelope(tag, false, "task.dlx", "task.ready." + tier), props, body, 0);
    }

    @Test
    void movesAfterTheConfirmThenAcksAndKeepsTheRestAtTheTail() throws Exception {
        when(channel.messageCount(DLQ)).thenReturn(2L);
        when(channel.basicGet(DLQ, false)).thenReturn(deadLetter(1, "t-1", "llm_failed", "small"),
                deadLetter(2, "t-2", "invalid_task", "tiny"));
        when(channel.waitForConfirms(anyLong())).thenReturn(true);
        ReplayReport report = new ReplayReport();

        assertThat(replay.scan(channel, new ReplayFilter(null, "llm_failed", Integer.MAX_VALUE), report)).isNull();

        InOrder order = inOrder(channel);
        order.verify(channel).basicPublish(eq("task.events"), eq("task.ready.small"), eq(true), any(), any());
        order.verify(channel).waitForConfirms(anyLong());
        order.verify(channel).basicAck(1, false);
        order.verify(channel).basicPublish(eq(""), eq(DLQ), eq(true), any(), any());
        order.verify(channel).waitForConfirms(anyLong());
        order.verify(channel).basicAck(2, false);
        verify(channel, never()).basicNack(anyLong(), anyBoolean(), anyBoolean());
        assertThat(report.replayAnswer()).containsEntry("moved", 1).containsEntry("kept", 1).containsEntry("skipped", 0);
    }

    @Test
    void anUnconfirmedMoveIsNackedWithRequeueAndStopsTheScan() throws Exception {
        when(channel.messageCount(DLQ)).thenReturn(2L);
        when(channel.basicGet(DLQ, false)).thenReturn(deadLetter(7, "t-7", "llm_failed", "small"));
        when(channel.waitForConfirms(anyLong())).thenReturn(false);
        ReplayReport report = new ReplayReport();

        assertThat(replay.scan(channel, ReplayFilter.ALL, report)).contains("t-7").contains("nack");

        verify(channel).basicNack(7, false, true);
        verify(channel, never()).basicAck(anyLong(), anyBoolean());
        verify(channel).basicGet(DLQ, false);
        assertThat(report.replayAnswer()).containsEntry("moved", 0);
    }

    @Test
    void aFailureWhilePublishingPutsTheMessageBack() throws Exception {
        when(channel.messageCount(DLQ)).thenReturn(1L);
        when(channel.basicGet(DLQ, false)).thenReturn(deadLetter(3, "t-3", "llm_failed", "small"));
        doThrow(new IOException("channel closed")).when(channel)
                .basicPublish(anyString(), anyString(), anyBoolean(), any(), any());

        assertThat(replay.scan(channel, ReplayFilter.ALL, new ReplayReport())).contains("channel closed");

        verify(channel).basicNack(3, false, true);
        verify(channel, never()).basicAck(anyLong(), anyBoolean());
    }

    @Test
    void aTierThatIsNotConfiguredIsSkippedAndStays() throws Exception {
        when(channel.messageCount(DLQ)).thenReturn(1L);
        when(channel.basicGet(DLQ, false)).thenReturn(deadLetter(4, "t-4", "llm_failed", "gpu"));
        when(channel.waitForConfirms(anyLong())).thenReturn(true);
        ReplayReport report = new ReplayReport();

        assertThat(replay.scan(channel, ReplayFilter.ALL, report)).isNull();

        verify(channel).basicPublish(eq(""), eq(DLQ), eq(true), any(), any());
        verify(channel).basicAck(4, false);
        assertThat(report.replayAnswer()).containsEntry("skipped", 1)
                .containsEntry("skipped_reasons", Map.of("tier 'gpu' is not configured", 1));
    }

    @Test
    void takesNoMoreThanTheQueueHeldAtTheStart() throws Exception {
        when(channel.messageCount(DLQ)).thenReturn(1L);
        when(channel.basicGet(DLQ, false)).thenReturn(deadLetter(5, "t-5", "llm_failed", "small"));
        when(channel.waitForConfirms(anyLong())).thenReturn(true);

        replay.scan(channel, new ReplayFilter("other", null, Integer.MAX_VALUE), new ReplayReport());

        verify(channel).basicGet(DLQ, false);
    }
}
