package io.dats.worker.store;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

import io.dats.worker.config.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Keeps the task store from growing without end: the state of a task that completed or failed longer ago than
 * {@code worker.store.retention} is deleted, every {@code worker.store.purge-interval}, by route
 * {@code task-store-retention} (routes/task-store.camel.yaml). After that its id is new again: a late duplicate of it
 * runs the task again. A retention of 0 keeps every task.
 */
@Component("taskStoreRetention")
public class TaskStoreRetention {

    private static final Logger LOG = LoggerFactory.getLogger(TaskStoreRetention.class);
    private static final String RETENTION = "worker.store.retention";

    private final TaskStore store;
    private final Duration retention;
    private final Clock clock;

    @Autowired
    TaskStoreRetention(TaskStore store, @Value("${worker.store.retention:7d}") Duration retention) {
        this(store, retention, Clock.systemUTC());
    }

    TaskStoreRetention(TaskStore store, Duration retention, Clock clock) {
        if (retention.isNegative()) {
            throw new IllegalArgumentException(RETENTION + " (environment variable " + WorkerProperties.envVar(RETENTION)
                    + ") must be 0 (keep every task) or a positive duration such as 7d, not " + retention);
        }
        this.store = store;
        this.retention = retention;
        this.clock = clock;
    }

    /** Deletes the tasks that ended before now minus the retention; returns how many. */
    public int purge() {
        if (retention.isZero()) {
            return 0;
        }
        Instant cutoff = clock.instant().minus(retention);
        int deleted = store.purgeEndedBefore(cutoff);
        if (deleted > 0) {
            LOG.info("Task store: deleted {} task(s) that ended before {} ({} {})", deleted, cutoff, RETENTION, retention);
        }
        return deleted;
    }
}
