package io.dats.worker.identity;

import io.dats.worker.llm.TierSlots;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.ApplicationContext;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.stereotype.Component;

/**
 * The worker's status as seed 001 defines it: {@code starting} until Spring Boot says the application is ready
 * (Camel, its routes and consumers and the web server started), then {@code busy} while any LLM call is in flight
 * ({@link TierSlots}: every call of every tier, tasks and infer calls alike) and {@code ready} otherwise, and
 * {@code stopped} from the first moment of the shutdown (the context's close event, before the drain).
 */
@Component
public class WorkerLifecycle {

    private final ApplicationContext context;
    private final TierSlots slots;
    private volatile boolean ready;
    private volatile boolean stopped;

    WorkerLifecycle(ApplicationContext context, TierSlots slots) {
        this.context = context;
        this.slots = slots;
    }

    public WorkerStatus status() {
        if (stopped) {
            return WorkerStatus.STOPPED;
        }
        if (!ready) {
            return WorkerStatus.STARTING;
        }
        return slots.inFlight() > 0 ? WorkerStatus.BUSY : WorkerStatus.READY;
    }

    @EventListener
    void onReady(ApplicationReadyEvent event) {
        if (event.getApplicationContext() == context) {
            ready = true;
        }
    }

    /** First of the close listeners: the status says {@code stopped} before the drain starts. */
    @EventListener
    @Order(Ordered.HIGHEST_PRECEDENCE)
    void onClose(ContextClosedEvent event) {
        if (event.getApplicationContext() == context) {
            stopped = true;
        }
    }
}
