package io.dats.worker.api;

import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RestLineTest {

    private final WorkerProperties properties = TestWorkerProperties.defaults();
    private final RestLine line = new RestLine(properties);
    private final DefaultCamelContext camel = new DefaultCamelContext();

    @AfterEach
    void stop() {
        line.destroy();
    }

    private Exchange task(String source, String tier) {
        Exchange exchange = new DefaultExchange(camel);
        exchange.setVariable(TaskVariables.SOURCE, source);
        exchange.setVariable(TaskVariables.TIER, tier);
        return exchange;
    }

    @Test
    void admitsRestCallersUpToMaxWaitingAndRefusesTheNextWith429() {
        int max = properties.tier("frontier").maxWaiting();
        for (int i = 0; i < max; i++) {
            line.admit(task("rest", "frontier"));
        }
        assertThat(line.waiting("frontier")).isEqualTo(max);
        assertThatThrownBy(() -> line.admit(task("rest", "frontier"))).isInstanceOf(TierBusyException.class)
                .hasMessageContaining("worker.tiers.frontier.max-waiting");
        assertThat(line.waiting("frontier")).isEqualTo(max);
        assertThat(line.waiting("tiny")).isZero();
    }

    @Test
    void queuedTasksAreNeverCountedNorRefused() {
        for (int i = 0; i < 100; i++) {
            line.admit(task("queue", "frontier"));
        }
        assertThat(line.waiting("frontier")).isZero();
    }

    @Test
    void aStartedOrAnsweredCallerLeavesTheLineOnce() {
        Exchange first = task("rest", "small");
        Exchange second = task("rest", "small");
        line.admit(first);
        line.admit(second);
        assertThat(line.waiting("small")).isEqualTo(2);
        assertThat(RestLine.start(first)).isTrue();
        assertThat(line.waiting("small")).isEqualTo(1);
        line.leave(first);
        line.leave(second);
        line.leave(second);
        assertThat(line.waiting("small")).isZero();
        // a task without a ticket (queued) always starts
        assertThat(RestLine.start(task("queue", "small"))).isTrue();
    }
}
