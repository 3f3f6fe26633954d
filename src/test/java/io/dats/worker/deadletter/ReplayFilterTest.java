package io.dats.worker.deadletter;

import java.util.Optional;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ReplayFilterTest {

    static final ObjectMapper MAPPER = new ObjectMapper();

    static DeadLetter letter(String taskId, String error) {
        return new DeadLetter(taskId, error, Optional.of("small"), new AMQP.BasicProperties(), new byte[0]);
    }

    @Test
    void emptyBodyOrEmptyObjectReplaysEverything() {
        assertThat(ReplayFilter.parse(null, MAPPER)).isEqualTo(ReplayFilter.ALL);
        assertThat(ReplayFilter.parse("  ", MAPPER)).isEqualTo(ReplayFilter.ALL);
        assertThat(ReplayFilter.parse("{}", MAPPER)).isEqualTo(ReplayFilter.ALL);
        assertThat(ReplayFilter.ALL.matches(letter(null, "unknown"))).isTrue();
    }

    @Test
    void taskIdAndErrorMustBothMatch() {
        ReplayFilter filter = ReplayFilter.parse("{\"task_id\":\"t-1\",\"error\":\"llm_failed\",\"limit\":2}", MAPPER);
        assertThat(filter.limit()).isEqualTo(2);
        assertThat(filter.matches(letter("t-1", "llm_failed"))).isTrue();
        assertThat(filter.matches(letter("t-1", "invalid_task"))).isFalse();
        assertThat(filter.matches(letter("t-2", "llm_failed"))).isFalse();
        assertThat(filter.matches(letter(null, "llm_failed"))).isFalse();
        assertThat(ReplayFilter.parse("{\"error\":\"rejected\"}", MAPPER).matches(letter("t-9", "rejected"))).isTrue();
    }

    @Test
    void refusesWhatItCannotReadRatherThanReplayingEverything() {
        for (String body : new String[] {"{\"taskid\":\"t-1\"}", "[1]", "{not json", "{\"limit\":0}", "{\"limit\":1.5}",
                "{\"limit\":\"3\"}", "{\"task_id\":\"\"}", "{\"error\":42}"}) {
            assertThatThrownBy(() -> ReplayFilter.parse(body, MAPPER)).as(body)
                    .isInstanceOfSatisfying(DeadLetterApiException.class, e -> assertThat(e.status()).isEqualTo(400));
        }
    }

    @Test
    void nullFieldsAreAbsentFields() {
        assertThat(ReplayFilter.parse("{\"task_id\":null,\"error\":null,\"limit\":null}", MAPPER)).isEqualTo(ReplayFilter.ALL);
    }
}
