package io.dats.worker.llm;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.dats.worker.config.WorkerProperties;

import org.springframework.stereotype.Component;

/**
 * The per-tier bound as permits: {@code worker.tiers.<tier>.concurrency} permits per tier, taken by every LLM call of
 * the tier, whichever way it is made. The {@code llm-<tier>} routes take one per exchange ({@link TierSlotPolicy}; the
 * route's seda consumers are as many as the permits, so tasks alone never wait here) and {@code POST /v1/infer} takes
 * one around its model call, streaming or not: queued tasks, REST tasks and infer calls together never have more than
 * {@code concurrency} calls in flight. Fair semaphores, so a waiting caller is not overtaken indefinitely.
 * Also counts the calls in flight, for the worker's {@code busy} status and {@code active_tasks}.
 */
@Component
public class TierSlots {

    private final Map<String, Semaphore> permits = new LinkedHashMap<>();
    private final Map<String, AtomicInteger> inFlight = new LinkedHashMap<>();
    private final AtomicInteger total = new AtomicInteger();

    public TierSlots(WorkerProperties properties) {
        properties.tiers().forEach((name, tier) -> {
            permits.put(name, new Semaphore(tier.concurrency(), true));
            inFlight.put(name, new AtomicInteger());
        });
    }

    /** Waits for a free slot of the tier; the slot is given back by {@link Slot#close()} (idempotent). */
    public Slot acquire(String tier) throws InterruptedException {
        Semaphore semaphore = permits.get(tier);
        if (semaphore == null) {
            throw new IllegalArgumentException("unknown tier '" + tier + "'");
        }
        semaphore.acquire();
        inFlight.get(tier).incrementAndGet();
        total.incrementAndGet();
        return new Slot(tier, semaphore);
    }

    /** LLM calls in flight, all tiers. */
    public int inFlight() {
        return total.get();
    }

    /** LLM calls in flight of one tier (0 for an unknown tier). */
    public int inFlight(String tier) {
        AtomicInteger count = inFlight.get(tier);
        return count == null ? 0 : count.get();
    }

    /** Callers waiting for a slot of the tier (infer calls; tasks wait in the seda queue in front of the route). */
    public int waiting(String tier) {
        Semaphore semaphore = permits.get(tier);
        return semaphore == null ? 0 : semaphore.getQueueLength();
    }

    /** One taken slot. */
    public final class Slot implements AutoCloseable {

        private final String tier;
        private final Semaphore semaphore;
        private final AtomicBoolean released = new AtomicBoolean();

        private Slot(String tier, Semaphore semaphore) {
            this.tier = tier;
            this.semaphore = semaphore;
        }

        public String tier() {
            return tier;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) {
                inFlight.get(tier).decrementAndGet();
                total.decrementAndGet();
                semaphore.release();
            }
        }
    }
}
