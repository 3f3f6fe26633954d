package io.dats.worker.llm;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RetryAfterTest {

    @Test
    void readsSecondsAndFractions() {
        assertThat(RetryAfter.parse("12")).contains(Duration.ofSeconds(12));
        assertThat(RetryAfter.parse(" 1.5 ")).contains(Duration.ofMillis(1500));
        assertThat(RetryAfter.parse("-3")).contains(Duration.ZERO);
    }

    @Test
    void readsAnHttpDate() {
        String inTenSeconds = DateTimeFormatter.RFC_1123_DATE_TIME.format(ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(10));

        assertThat(RetryAfter.parse(inTenSeconds)).hasValueSatisfying(wait ->
                assertThat(wait).isBetween(Duration.ofSeconds(8), Duration.ofSeconds(10)));
        assertThat(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT")).contains(Duration.ZERO);
    }

    @Test
    void ignoresWhatIsNeitherSecondsNorADate() {
        assertThat(RetryAfter.parse("soon")).isEmpty();
    }
}
