package io.dats.worker.llm;

import org.apache.camel.Exchange;
import org.apache.camel.spi.ExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * The exception handler of the tiers' seda lines ({@code llm-<tier>}). A failed LLM call goes back to the caller
 * waiting for it, whose error policy logs and handles it (task.failed, dead letter, REST error); the seda consumer's
 * default handler would log the same failure a second time, with its stack trace, at ERROR.
 */
@Component("llmLineExceptionHandler")
public class LlmLineExceptionHandler implements ExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(LlmLineExceptionHandler.class);

    @Override
    public void handleException(Throwable exception) {
        handleException("LLM line failure", null, exception);
    }

    @Override
    public void handleException(String message, Throwable exception) {
        handleException(message, null, exception);
    }

    @Override
    public void handleException(String message, Exchange exchange, Throwable exception) {
        if (exchange == null) {
            // not a call's failure (the line itself failed): nobody else reports it
            LOG.warn("{}: {}", message, exception.toString(), exception);
        } else {
            LOG.debug("{} {} handed back to its caller: {}", message, exchange.getExchangeId(), exception.toString());
        }
    }
}
