package io.dats.worker.metrics;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import io.dats.worker.config.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.core.AmqpAdmin;
import org.springframework.amqp.rabbit.core.RabbitAdmin;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * Tasks ready in each tier queue on the broker, for the {@code worker.queue.depth} gauge and the {@code /metrics}
 * summary. Reading it never waits for the broker: it answers the last count and, when that is older than
 * {@link #MAX_AGE_NANOS}, asks the broker again in the background (one passive queue declaration per tier), so a
 * scrape stays cheap and a broker outage cannot stall it. 0 until the first answer, and while the broker cannot be asked.
 */
@Component
class QueueDepths implements DisposableBean {

    static final long MAX_AGE_NANOS = 5_000_000_000L;
    private static final Logger LOG = LoggerFactory.getLogger(QueueDepths.class);

    private final WorkerProperties properties;
    private final ObjectProvider<AmqpAdmin> amqpAdmin;
    private final Map<String, Integer> depths = new ConcurrentHashMap<>();
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private final ExecutorService refresher = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "queue-depths");
        thread.setDaemon(true);
        return thread;
    });
    private volatile long refreshedAt = System.nanoTime() - 2 * MAX_AGE_NANOS;

    QueueDepths(WorkerProperties properties, ObjectProvider<AmqpAdmin> amqpAdmin) {
        this.properties = properties;
        this.amqpAdmin = amqpAdmin;
    }

    /** The last known count of the tier's queue; starts a refresh when it is stale. */
    int cached(String tier) {
        if (System.nanoTime() - refreshedAt > MAX_AGE_NANOS && refreshing.compareAndSet(false, true)) {
            try {
                refresher.execute(this::refresh);
            } catch (RuntimeException e) {
                refreshing.set(false);
            }
        }
        return depths.getOrDefault(tier, 0);
    }

    private void refresh() {
        try {
            AmqpAdmin admin = amqpAdmin.getIfAvailable();
            if (admin == null) {
                return;
            }
            for (String tier : properties.tiers().keySet()) {
                int depth = 0;
                for (io.dats.worker.priority.Priority lane : io.dats.worker.priority.Priority.values()) {
                    depth += count(admin, properties.broker().queue(tier, lane));
                }
                depths.put(tier, depth);
            }
        } catch (RuntimeException e) {
            LOG.debug("Queue depths not read: {}", e.getMessage());
        } finally {
            refreshedAt = System.nanoTime();
            refreshing.set(false);
        }
    }

    private static int count(AmqpAdmin admin, String queue) {
        Properties info = admin.getQueueProperties(queue);
        Object count = info == null ? null : info.get(RabbitAdmin.QUEUE_MESSAGE_COUNT);
        return count instanceof Number number ? number.intValue() : 0;
    }

    @Override
    public void destroy() {
        refresher.shutdownNow();
    }
}
