package io.dats.worker.priority;

import java.util.concurrent.BlockingQueue;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.seda.BlockingQueueFactory;
import org.apache.camel.component.seda.SedaComponent;
import org.apache.camel.component.seda.SedaEndpoint;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Makes every tier's line ({@code seda:llm-<tier>}, the only seda queues of the worker) a {@link TierLineQueue}:
 * ordered by priority, still bounded by seda's {@code size} (the component's queue size, 1000 by default). Set as the
 * seda component's default queue factory, so the routes keep their plain {@code seda:llm-<tier>} URIs.
 */
@Configuration(proxyBeanMethods = false)
public class TierLines {

    private static final Logger LOG = LoggerFactory.getLogger(TierLines.class);

    @Bean
    CamelContextConfiguration priorityOrderedTierLines(PriorityProperties priority) {
        long step = priority.step().toMillis();
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                camelContext.getComponent("seda", SedaComponent.class).setDefaultQueueFactory(factory(step));
                LOG.info("Tier lines ordered by priority: a task goes before lower-priority ones that joined less than "
                        + "(level difference x {} ms) earlier (worker.priority.step)", step);
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }

    /** Tasks waiting in the tier's line (this worker) with the given priority or a higher one. */
    public static int waitingAtOrAbove(CamelContext camelContext, String tier, Priority priority) {
        int count = 0;
        for (org.apache.camel.Endpoint endpoint : camelContext.getEndpoints()) {
            if (endpoint instanceof SedaEndpoint seda && endpoint.getEndpointBaseUri().equals("seda://llm-" + tier)) {
                for (Exchange waiting : seda.getQueue()) {
                    if (TierLineQueue.priorityOf(waiting).level() >= priority.level()) {
                        count++;
                    }
                }
                return count;
            }
        }
        return count;
    }

    static BlockingQueueFactory<Exchange> factory(long stepMillis) {
        return new BlockingQueueFactory<>() {
            @Override
            public BlockingQueue<Exchange> create() {
                return new TierLineQueue(Integer.MAX_VALUE, stepMillis, System::currentTimeMillis);
            }

            @Override
            public BlockingQueue<Exchange> create(int capacity) {
                return new TierLineQueue(capacity, stepMillis, System::currentTimeMillis);
            }
        };
    }
}
