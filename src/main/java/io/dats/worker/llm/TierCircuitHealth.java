package io.dats.worker.llm;

import java.util.Map;

import org.apache.camel.CamelContext;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Every tier's circuit as a Camel readiness check {@code circuit-<tier>}: DOWN while the circuit is open or half-open
 * (the tier takes no tasks), UP when it is closed. Not a liveness check: an open circuit is the LLM endpoint's
 * failure, and restarting the worker would not help.
 */
@Configuration(proxyBeanMethods = false)
class TierCircuitHealth {

    private static final Logger LOG = LoggerFactory.getLogger(TierCircuitHealth.class);

    @Bean
    CamelContextConfiguration tierCircuitHealthChecks(TierCircuits circuits) {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                HealthCheckRegistry registry = HealthCheckRegistry.get(camelContext);
                if (registry == null) {
                    LOG.warn("No Camel health check registry: the tiers' circuits are not health checks");
                    return;
                }
                circuits.tiers().forEach(tier -> registry.register(new Check(circuits, tier)));
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }

    /** The readiness check of one tier's circuit. */
    static final class Check extends AbstractHealthCheck {

        private final TierCircuits circuits;
        private final String tier;

        Check(TierCircuits circuits, String tier) {
            super("worker", "circuit-" + tier);
            this.circuits = circuits;
            this.tier = tier;
        }

        @Override
        public boolean isLiveness() {
            return false;
        }

        @Override
        protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
            builder.detail("tier", tier).detail("state", circuits.state(tier));
            if (circuits.permitsCalls(tier)) {
                builder.up();
                return;
            }
            builder.message("the LLM endpoint of tier " + tier + " is failing: circuit " + circuits.state(tier)).down();
        }
    }
}
