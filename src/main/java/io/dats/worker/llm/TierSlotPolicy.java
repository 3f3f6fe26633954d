package io.dats.worker.llm;

import io.dats.worker.config.WorkerProperties;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.NamedNode;
import org.apache.camel.Route;
import org.apache.camel.spi.RoutePolicy;
import org.apache.camel.spi.RoutePolicyFactory;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.apache.camel.support.RoutePolicySupport;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Makes every exchange of an {@code llm-<tier>} route hold one of the tier's {@link TierSlots} while it runs, so the
 * calls that do not go through the route ({@code POST /v1/infer}, streaming or not) count against the same bound.
 * The slot is taken when the exchange enters the route (on the seda consumer thread) and given back when the
 * exchange's unit of work is done, whether Camel is running or stopping (Camel skips a route policy's
 * {@code onExchangeDone} while it stops, which would leak slots during the shutdown drain).
 */
final class TierSlotPolicy extends RoutePolicySupport {

    static final String SLOT = "workerTierSlot";
    private static final Logger LOG = LoggerFactory.getLogger(TierSlotPolicy.class);

    private final TierSlots slots;
    private final String tier;

    TierSlotPolicy(TierSlots slots, String tier) {
        this.slots = slots;
        this.tier = tier;
    }

    @Override
    public void onExchangeBegin(Route route, Exchange exchange) {
        if (exchange.getProperty(SLOT) != null) {
            return;
        }
        try {
            TierSlots.Slot slot = slots.acquire(tier);
            exchange.setProperty(SLOT, slot);
            exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
                @Override
                public void onDone(Exchange done) {
                    slot.close();
                }
            });
        } catch (InterruptedException e) {
            // only a stopping worker interrupts its consumers; the call then runs without a slot
            LOG.warn("Interrupted while waiting for a slot of tier {}", tier);
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void onExchangeDone(Route route, Exchange exchange) {
        TierSlots.Slot slot = exchange.getProperty(SLOT, TierSlots.Slot.class);
        if (slot != null) {
            slot.close();
        }
    }

    /** Attaches the policy to the {@code llm-<tier>} route of every configured tier (made by TierRoutes). */
    @Configuration(proxyBeanMethods = false)
    static class Registration {

        @Bean
        CamelContextConfiguration tierSlotPolicies(WorkerProperties properties, TierSlots slots) {
            RoutePolicyFactory factory = new RoutePolicyFactory() {
                @Override
                public RoutePolicy createRoutePolicy(CamelContext camelContext, String routeId, NamedNode route) {
                    if (routeId != null && routeId.startsWith("llm-")
                            && properties.tiers().containsKey(routeId.substring(4))) {
                        return new TierSlotPolicy(slots, routeId.substring(4));
                    }
                    return null;
                }
            };
            return new CamelContextConfiguration() {
                @Override
                public void beforeApplicationStart(CamelContext camelContext) {
                    camelContext.addRoutePolicyFactory(factory);
                }

                @Override
                public void afterApplicationStart(CamelContext camelContext) {
                    // nothing to do
                }
            };
        }
    }
}
