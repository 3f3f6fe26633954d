package io.dats.worker.observability;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.engine.DefaultUnitOfWork;
import org.apache.camel.spi.InflightRepository;
import org.apache.camel.spi.UnitOfWork;
import org.apache.camel.spi.UnitOfWorkFactory;

/**
 * Camel's unit-of-work factory with {@link TaskMdcUnitOfWork} in place of its MDC unit of work: on when
 * {@code camel.main.use-mdc-logging} is true (the default here), Camel's plain unit of work otherwise.
 */
final class TaskMdcUnitOfWorkFactory implements UnitOfWorkFactory {

    private final boolean tracing;
    private InflightRepository inflightRepository;
    private boolean mdc;
    private String mdcPattern;
    private boolean allowUseOriginalMessage;
    private boolean useBreadcrumb;

    TaskMdcUnitOfWorkFactory(boolean tracing) {
        this.tracing = tracing;
    }

    @Override
    public UnitOfWork createUnitOfWork(Exchange exchange) {
        return mdc
                ? new TaskMdcUnitOfWork(exchange, inflightRepository, mdcPattern, allowUseOriginalMessage, useBreadcrumb,
                        tracing)
                : new DefaultUnitOfWork(exchange, inflightRepository, allowUseOriginalMessage, useBreadcrumb);
    }

    @Override
    public void afterPropertiesConfigured(CamelContext camelContext) {
        inflightRepository = camelContext.getInflightRepository();
        mdc = Boolean.TRUE.equals(camelContext.isUseMDCLogging());
        mdcPattern = camelContext.getMDCLoggingKeysPattern();
        allowUseOriginalMessage = Boolean.TRUE.equals(camelContext.isAllowUseOriginalMessage());
        useBreadcrumb = Boolean.TRUE.equals(camelContext.isUseBreadcrumb());
    }
}
