package io.dats.worker.priority;

import java.util.Collection;
import java.util.Comparator;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;

/**
 * A tier's line in front of its LLM bound ({@code seda:llm-<tier>}), ordered by priority instead of arrival, and
 * bounded like the seda queue it replaces. Each task gets a rank when it joins the line: its arrival time minus
 * {@code level x step} ({@code worker.priority.step}), lowest rank first, arrival order among equal ranks. So a
 * {@code critical} task (level 3) goes before a {@code low} one (level 0) that joined less than {@code 3 x step}
 * earlier, and never before one that has waited longer than that: a low task waits behind newer high-priority ones
 * for at most 3 steps (no starvation). The rank is fixed when the task joins, so the heap order never changes while
 * it waits.
 *
 * <p>{@link PriorityBlockingQueue} alone is unbounded (its capacity is only the initial size): this class keeps the seda
 * semantics of a bounded queue: {@code add} throws {@code IllegalStateException("Queue full")}, {@code offer} answers
 * false, {@code put} and the timed {@code offer} (seda's {@code blockWhenFull}, {@code offerTimeout}) wait for room.
 */
final class TierLineQueue extends PriorityBlockingQueue<Exchange> {

    /** Exchange properties: the place in the line (set when the task joins it). */
    static final String RANK = "workerLineRank";
    static final String SEQUENCE = "workerLineSequence";

    static final Comparator<Exchange> ORDER = Comparator
            .comparingLong((Exchange e) -> e.getProperty(RANK, 0L, Long.class))
            .thenComparingLong(e -> e.getProperty(SEQUENCE, 0L, Long.class));

    private final int capacity;
    private final long stepMillis;
    private final LongSupplier clock;
    private final AtomicLong sequence = new AtomicLong();
    private final ReentrantLock room = new ReentrantLock();
    private final Condition notFull = room.newCondition();

    TierLineQueue(int capacity, long stepMillis, LongSupplier clock) {
        super(Math.max(1, Math.min(capacity, 64)), ORDER);
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1");
        }
        this.capacity = capacity;
        this.stepMillis = stepMillis;
        this.clock = clock;
    }

    /** The task's priority: the {@code priority} variable its intake set (lane or request), else normal. */
    static Priority priorityOf(Exchange exchange) {
        Object value = exchange.getVariable(TaskVariables.PRIORITY);
        if (value instanceof Priority priority) {
            return priority;
        }
        try {
            return Priority.of(value == null ? null : value.toString());
        } catch (IllegalArgumentException e) {
            return Priority.NORMAL;
        }
    }

    private void stamp(Exchange exchange) {
        if (exchange.getProperty(RANK) == null) {
            exchange.setProperty(RANK, clock.getAsLong() - priorityOf(exchange).level() * stepMillis);
        }
        exchange.setProperty(SEQUENCE, sequence.incrementAndGet());
    }

    @Override
    public boolean offer(Exchange exchange) {
        room.lock();
        try {
            if (size() >= capacity) {
                return false;
            }
            stamp(exchange);
            return super.offer(exchange);
        } finally {
            room.unlock();
        }
    }

    @Override
    public boolean add(Exchange exchange) {
        if (!offer(exchange)) {
            throw new IllegalStateException("Queue full");
        }
        return true;
    }

    @Override
    public void put(Exchange exchange) {
        room.lock();
        try {
            while (size() >= capacity) {
                notFull.awaitUninterruptibly();
            }
            stamp(exchange);
            super.offer(exchange);
        } finally {
            room.unlock();
        }
    }

    @Override
    public boolean offer(Exchange exchange, long timeout, TimeUnit unit) {
        long nanos = unit.toNanos(timeout);
        room.lock();
        try {
            while (size() >= capacity) {
                if (nanos <= 0) {
                    return false;
                }
                try {
                    nanos = notFull.awaitNanos(nanos);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            stamp(exchange);
            return super.offer(exchange);
        } finally {
            room.unlock();
        }
    }

    @Override
    public int remainingCapacity() {
        return Math.max(0, capacity - size());
    }

    private <T> T signalled(T removed) {
        room.lock();
        try {
            notFull.signalAll();
        } finally {
            room.unlock();
        }
        return removed;
    }

    @Override
    public Exchange poll() {
        return signalled(super.poll());
    }

    @Override
    public Exchange poll(long timeout, TimeUnit unit) throws InterruptedException {
        return signalled(super.poll(timeout, unit));
    }

    @Override
    public Exchange take() throws InterruptedException {
        return signalled(super.take());
    }

    @Override
    public boolean remove(Object o) {
        return signalled(super.remove(o));
    }

    @Override
    public int drainTo(Collection<? super Exchange> c) {
        return signalled(super.drainTo(c));
    }

    @Override
    public int drainTo(Collection<? super Exchange> c, int maxElements) {
        return signalled(super.drainTo(c, maxElements));
    }

    @Override
    public void clear() {
        super.clear();
        signalled(null);
    }
}
