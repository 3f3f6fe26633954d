package io.dats.worker.priority;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.dats.worker.task.TaskVariables;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TierLineQueueTest {

    final CamelContext camel = new DefaultCamelContext();
    final AtomicLong now = new AtomicLong(1_000_000);

    Exchange task(String id, String priority) {
        Exchange exchange = new DefaultExchange(camel);
        exchange.setVariable(TaskVariables.TASK_ID, id);
        if (priority != null) {
            exchange.setVariable(TaskVariables.PRIORITY, priority);
        }
        return exchange;
    }

    static List<String> drain(TierLineQueue queue) {
        List<String> order = new ArrayList<>();
        for (Exchange e = queue.poll(); e != null; e = queue.poll()) {
            order.add(e.getVariable(TaskVariables.TASK_ID, String.class));
        }
        return order;
    }

    @Test
    void higherPrioritiesGoFirstAndEqualOnesInArrivalOrder() {
        TierLineQueue queue = new TierLineQueue(100, 60_000, now::get);
        queue.add(task("low-1", "low"));
        queue.add(task("low-2", "low"));
        queue.add(task("rest", null));
        queue.add(task("critical", "critical"));
        queue.add(task("high", "high"));
        queue.add(task("normal", "normal"));
        queue.add(task("odd", "urgent"));

        assertThat(drain(queue)).containsExactly("critical", "high", "rest", "normal", "odd", "low-1", "low-2");
    }

    @Test
    void aTaskThatWaitedLongerThanTheLevelDifferenceTimesTheStepIsNotPassed() {
        TierLineQueue queue = new TierLineQueue(100, 1_000, now::get);
        queue.add(task("old-low", "low"));
        now.addAndGet(3_001);
        queue.add(task("new-critical", "critical"));
        queue.add(task("new-low", "low"));
        now.addAndGet(-2);
        assertThat(drain(queue)).containsExactly("old-low", "new-critical", "new-low");

        queue.add(task("low", "low"));
        now.addAndGet(2_999);
        queue.add(task("critical", "critical"));
        assertThat(drain(queue)).containsExactly("critical", "low");
    }

    @Test
    void staysBoundedLikeTheSedaQueue() throws Exception {
        TierLineQueue queue = new TierLineQueue(2, 1_000, now::get);
        queue.add(task("a", "low"));
        assertThat(queue.offer(task("b", "low"))).isTrue();
        assertThat(queue.remainingCapacity()).isZero();
        assertThat(queue.offer(task("c", "critical"))).isFalse();
        assertThatThrownBy(() -> queue.add(task("d", "critical"))).isInstanceOf(IllegalStateException.class)
                .hasMessage("Queue full");
        assertThat(queue.offer(task("e", "critical"), 50, TimeUnit.MILLISECONDS)).isFalse();

        Thread blocked = new Thread(() -> queue.put(task("f", "critical")));
        blocked.start();
        blocked.join(200);
        assertThat(blocked.isAlive()).as("put waits for room").isTrue();
        assertThat(queue.poll(1, TimeUnit.SECONDS).getVariable(TaskVariables.TASK_ID)).isEqualTo("a");
        blocked.join(2_000);
        assertThat(blocked.isAlive()).isFalse();
        assertThat(drain(queue)).containsExactly("f", "b");
    }
}
