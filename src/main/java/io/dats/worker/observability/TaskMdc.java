package io.dats.worker.observability;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

import io.dats.worker.task.TaskVariables;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import org.apache.camel.Exchange;
import org.slf4j.MDC;

/**
 * The task keys of a log line's MDC: {@code task_id}, {@code tier}, {@code domain}, {@code route_id},
 * {@code trace_id}, {@code span_id}. {@link TaskMdcUnitOfWork} sets them around every step; {@link #open(Exchange)}
 * sets them for a line logged outside a step (when a task's exchange ends) and restores what was there.
 */
public final class TaskMdc implements AutoCloseable {

    static final String TASK_ID = "task_id";
    static final String TIER = "tier";
    static final String DOMAIN = "domain";
    static final String ROUTE_ID = "route_id";
    static final String TRACE_ID = "trace_id";
    static final String SPAN_ID = "span_id";
    static final String[] KEYS = {TASK_ID, TIER, DOMAIN, ROUTE_ID, TRACE_ID, SPAN_ID};
    /** The task's trace id, kept on the exchange for lines logged after its spans ended. */
    static final String TRACE_VARIABLE = "traceId";

    private final Map<String, String> previous;

    private TaskMdc(Map<String, String> previous) {
        this.previous = previous;
    }

    /** Sets the task keys from the exchange (route_id: the task's intake route) until closed. */
    public static TaskMdc open(Exchange exchange) {
        Map<String, String> previous = snapshot();
        putTask(exchange);
        put(ROUTE_ID, exchange.getFromRouteId());
        SpanContext span = Span.current().getSpanContext();
        put(TRACE_ID, span.isValid() ? span.getTraceId() : exchange.getVariable(TRACE_VARIABLE, String.class));
        put(SPAN_ID, span.isValid() ? span.getSpanId() : null);
        return new TaskMdc(previous);
    }

    /** Keeps the current trace id on the exchange (called while the task's spans are current). */
    public static void rememberTrace(Exchange exchange) {
        SpanContext span = Span.current().getSpanContext();
        if (span.isValid()) {
            exchange.setVariable(TRACE_VARIABLE, span.getTraceId());
        }
    }

    static void putTask(Exchange exchange) {
        put(TASK_ID, exchange.getVariable(TaskVariables.TASK_ID));
        put(TIER, exchange.getVariable(TaskVariables.TIER));
        put(DOMAIN, exchange.getVariable(TaskVariables.DOMAIN));
    }

    static Map<String, String> snapshot() {
        Map<String, String> values = new HashMap<>();
        for (String key : KEYS) {
            values.put(key, MDC.get(key));
        }
        return values;
    }

    static void restore(Map<String, String> values) {
        for (String key : KEYS) {
            put(key, values == null ? null : values.get(key));
        }
    }

    static void put(String key, Object value) {
        String text = value == null ? null : value.toString();
        if (Objects.equals(MDC.get(key), text)) {
            return; // unchanged (the common case, around every step): Logback copies its map on every put or remove
        }
        if (text == null) {
            MDC.remove(key);
        } else {
            MDC.put(key, text);
        }
    }

    @Override
    public void close() {
        restore(previous);
    }
}
