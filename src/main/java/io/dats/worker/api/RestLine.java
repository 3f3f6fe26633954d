package io.dats.worker.api;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.servlet.http.HttpServletRequest;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * The REST callers' places in each tier's line: at most {@code worker.tiers.<tier>.max-waiting} REST tasks wait for
 * a tier (admitted, LLM call not yet started); one more gets 429 ({@link TierBusyException}). Queued tasks do not
 * count and are never refused here (they wait in RabbitMQ). A waiting caller whose connection closes gives up its
 * place at once and its task is not run: the LLM route skips a cancelled ticket ({@link #start}).
 */
@Component("restLine")
public class RestLine implements DisposableBean {

    /** Exchange variable: the caller's {@link Ticket}. */
    public static final String TICKET = "restTicket";
    /** Exchange variable: the servlet request of a REST task (for the disconnect probe). */
    public static final String HTTP_REQUEST = "httpRequest";

    private static final Logger LOG = LoggerFactory.getLogger(RestLine.class);
    private static final long PROBE_MILLIS = 200;

    private final WorkerProperties properties;
    private final Map<String, AtomicInteger> waiting = new ConcurrentHashMap<>();
    private final Set<Ticket> watched = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "rest-disconnect-probe");
        thread.setDaemon(true);
        return thread;
    });

    RestLine(WorkerProperties properties) {
        this.properties = properties;
        properties.tiers().keySet().forEach(tier -> waiting.put(tier, new AtomicInteger()));
        prober.scheduleWithFixedDelay(this::probe, PROBE_MILLIS, PROBE_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Keeps the servlet request of a REST task (before the Camel headers that carry it are removed). */
    public void attach(Exchange exchange) {
        Object request = exchange.getMessage().getHeader("CamelHttpServletRequest");
        if (request instanceof HttpServletRequest servletRequest) {
            exchange.setVariable(HTTP_REQUEST, servletRequest);
        }
    }

    /** REST tasks waiting for the tier now. */
    public int waiting(String tier) {
        AtomicInteger count = waiting.get(tier);
        return count == null ? 0 : count.get();
    }

    /** Takes a place in the task's tier line for a REST task (no-op for queued tasks), or refuses it with 429. */
    public void admit(Exchange exchange) {
        if (!"rest".equals(exchange.getVariable(TaskVariables.SOURCE, String.class))) {
            return;
        }
        String tier = exchange.getVariable(TaskVariables.TIER, String.class);
        int max = properties.tier(tier).maxWaiting();
        AtomicInteger count = waiting.get(tier);
        int current;
        do {
            current = count.get();
            if (current >= max) {
                throw new TierBusyException(tier, max, properties.api().retryAfter());
            }
        } while (!count.compareAndSet(current, current + 1));
        Ticket ticket = new Ticket(tier, count,
                ClientConnection.of(exchange.getVariable(HTTP_REQUEST, HttpServletRequest.class)));
        exchange.setVariable(TICKET, ticket);
        exchange.getExchangeExtension().addOnCompletion(new org.apache.camel.support.SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                ticket.leave();
                watched.remove(ticket);
            }
        });
        if (ticket.connection != null) {
            watched.add(ticket);
        }
    }

    /** The REST task is about to be answered: it no longer waits and its connection is no longer probed. */
    public void leave(Exchange exchange) {
        Ticket ticket = exchange.getVariable(TICKET, Ticket.class);
        if (ticket != null) {
            ticket.leave();
            watched.remove(ticket);
        }
    }

    /**
     * Called by the LLM route before the call: leaves the line, or returns false when the caller has gone (the call
     * must not be made).
     */
    public static boolean start(Exchange exchange) {
        Ticket ticket = exchange.getVariable(TICKET, Ticket.class);
        return ticket == null || ticket.start();
    }

    private void probe() {
        for (Ticket ticket : watched) {
            try {
                if (!ticket.isWaiting()) {
                    watched.remove(ticket);
                } else if (ticket.cancelIfGone()) {
                    watched.remove(ticket);
                    LOG.info("A REST caller waiting for tier {} disconnected: its place is freed and its task will not run",
                            ticket.tier);
                }
            } catch (RuntimeException e) {
                LOG.debug("Disconnect probe failed: {}", e.toString());
                watched.remove(ticket);
            }
        }
    }

    @Override
    public void destroy() {
        prober.shutdownNow();
    }

    /** One REST caller's place: WAITING, then STARTED (LLM call began), LEFT (answered) or CANCELLED (gone). */
    public static final class Ticket {

        private enum State { WAITING, STARTED, LEFT, CANCELLED }

        private final String tier;
        private final AtomicInteger count;
        private final ClientConnection connection;
        private State state = State.WAITING;

        Ticket(String tier, AtomicInteger count, ClientConnection connection) {
            this.tier = tier;
            this.count = count;
            this.connection = connection;
        }

        synchronized boolean start() {
            if (state == State.CANCELLED) {
                return false;
            }
            if (state == State.WAITING) {
                count.decrementAndGet();
                state = State.STARTED;
            }
            return true;
        }

        synchronized void leave() {
            if (state == State.WAITING) {
                count.decrementAndGet();
            }
            if (state != State.CANCELLED) {
                state = State.LEFT;
            }
        }

        public synchronized boolean cancelled() {
            return state == State.CANCELLED;
        }

        synchronized boolean isWaiting() {
            return state == State.WAITING;
        }

        /** Probes only while waiting (the request is alive and no answer is being written). */
        synchronized boolean cancelIfGone() {
            if (state != State.WAITING) {
                return false;
            }
            if (!connection.gone()) {
                return false;
            }
            count.decrementAndGet();
            state = State.CANCELLED;
            return true;
        }
    }
}
