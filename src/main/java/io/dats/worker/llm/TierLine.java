package io.dats.worker.llm;

import org.apache.camel.CamelContext;
import org.apache.camel.component.seda.SedaEndpoint;

/** The line in front of a tier's LLM bound: the seda queue {@code seda:llm-<tier>} of routes/llm-calls.camel.yaml. */
public final class TierLine {

    private TierLine() {
    }

    /** Calls queued for the tier's LLM route, waiting for one of its {@code concurrency} consumers. */
    public static int waiting(CamelContext camelContext, String tier) {
        return camelContext.getEndpoints().stream()
                .filter(endpoint -> endpoint instanceof SedaEndpoint
                        && endpoint.getEndpointBaseUri().equals("seda://llm-" + tier))
                .mapToInt(endpoint -> ((SedaEndpoint) endpoint).getCurrentQueueSize())
                .max().orElse(0);
    }
}
