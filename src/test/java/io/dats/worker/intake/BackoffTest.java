package io.dats.worker.intake;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class BackoffTest {

    @Test
    void waitsFiveTenFifteenUpToThirtySecondsForEverAndStartsOverAfterASuccess() {
        Backoff backoff = new Backoff(Duration.ofSeconds(5), Duration.ofSeconds(30));
        assertThat(backoff.delay()).isZero();
        List<Long> seconds = new ArrayList<>();
        for (int n = 0; n < 9; n++) {
            seconds.add(backoff.failed().toSeconds());
        }
        assertThat(seconds).containsExactly(5L, 10L, 15L, 20L, 25L, 30L, 30L, 30L, 30L);
        assertThat(backoff.succeeded()).isEqualTo(9);
        assertThat(backoff.delay()).isZero();
        assertThat(backoff.failed()).isEqualTo(Duration.ofSeconds(5));
    }
}
