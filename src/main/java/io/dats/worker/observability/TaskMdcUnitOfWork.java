package io.dats.worker.observability;

import java.util.Map;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import org.apache.camel.Exchange;
import org.apache.camel.Route;
import org.apache.camel.impl.engine.MDCUnitOfWork;
import org.apache.camel.spi.InflightRepository;
import org.apache.camel.spi.UnitOfWork;

/**
 * Camel's MDC unit of work ({@code camel.main.use-mdc-logging}) plus the keys an operator filters a task's log lines
 * by: {@code task_id}, {@code tier}, {@code domain} (from the task's exchange variables, once the task was read),
 * {@code route_id} (the route running the step) and {@code trace_id}/{@code span_id} (the current OpenTelemetry span,
 * when tracing is on). Set before every step on the thread that runs it and removed when the step is done, like
 * Camel's own keys, so they do not leak onto lines about other work.
 */
final class TaskMdcUnitOfWork extends MDCUnitOfWork {

    /** The task keys as they were when this unit of work began (assigned by the first prepareMDC, in super()). */
    private Map<String, String> originals;
    static final String ROUTE_ID = TaskMdc.ROUTE_ID;
    static final String TRACE_ID = TaskMdc.TRACE_ID;
    static final String SPAN_ID = TaskMdc.SPAN_ID;

    private final InflightRepository inflight;
    private final String mdcPattern;
    private final boolean allowOriginal;
    private final boolean breadcrumb;
    private final boolean tracing;

    TaskMdcUnitOfWork(Exchange exchange, InflightRepository inflightRepository, String pattern,
                      boolean allowUseOriginalMessage, boolean useBreadcrumb, boolean tracing) {
        super(exchange, inflightRepository, pattern, allowUseOriginalMessage, useBreadcrumb);
        this.inflight = inflightRepository;
        this.mdcPattern = pattern;
        this.allowOriginal = allowUseOriginalMessage;
        this.breadcrumb = useBreadcrumb;
        this.tracing = tracing;
        // the super constructor prepared the MDC before this object knew whether tracing is on
        putTrace();
    }

    @Override
    public UnitOfWork newInstance(Exchange exchange) {
        return new TaskMdcUnitOfWork(exchange, inflight, mdcPattern, allowOriginal, breadcrumb, tracing);
    }

    @Override
    protected void prepareMDC(Exchange exchange) {
        if (originals == null) {
            originals = TaskMdc.snapshot();
        }
        super.prepareMDC(exchange);
        TaskMdc.putTask(exchange);
        Route route = getRoute();
        put(ROUTE_ID, route == null ? null : route.getRouteId());
        putTrace();
    }

    @Override
    public void pushRoute(Route route) {
        super.pushRoute(route);
        put(ROUTE_ID, route == null ? null : route.getRouteId());
    }

    @Override
    public Route popRoute() {
        Route popped = super.popRoute();
        Route current = getRoute();
        put(ROUTE_ID, current == null ? null : current.getRouteId());
        return popped;
    }

    private void putTrace() {
        if (!tracing) {
            return;
        }
        SpanContext span = Span.current().getSpanContext();
        put(TRACE_ID, span.isValid() ? span.getTraceId() : null);
        put(SPAN_ID, span.isValid() ? span.getSpanId() : null);
    }

    /** Like Camel's keys: back to what they were when this unit of work began (an enrich's inner one ends inside the task). */
    @Override
    public void clear() {
        super.clear();
        TaskMdc.restore(originals);
    }

    private static void put(String key, Object value) {
        TaskMdc.put(key, value);
    }
}
