package io.dats.worker.broker;

import java.util.LinkedHashMap;
import java.util.Map;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.ServiceStatus;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The Camel readiness check {@code intake-listeners}: DOWN while a started queue intake ({@code intake-*}) has no
 * consumer on the broker, so that a tier that takes no task does not look ready (Camel's own route and consumer checks
 * say UP for it: the route is started, the listener container is running). Suspended intakes (an open circuit) and
 * intakes an operator stopped are left to the circuit and route checks.
 */
@Configuration(proxyBeanMethods = false)
class IntakeListenerHealth {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeListenerHealth.class);

    @Bean
    CamelContextConfiguration intakeListenerHealthCheck(IntakeListeners listeners) {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                HealthCheckRegistry registry = HealthCheckRegistry.get(camelContext);
                if (registry == null) {
                    LOG.warn("No Camel health check registry: the intakes' consumers are not a health check");
                    return;
                }
                registry.register(new Check(listeners));
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }

    /** The readiness check of every started intake's broker consumers. */
    static final class Check extends AbstractHealthCheck {

        private final IntakeListeners listeners;

        Check(IntakeListeners listeners) {
            super("worker", "intake-listeners");
            this.listeners = listeners;
        }

        @Override
        public boolean isLiveness() {
            return false;
        }

        @Override
        protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
            CamelContext camelContext = getCamelContext();
            Map<String, String> withoutConsumer = new LinkedHashMap<>();
            int started = 0;
            for (Route route : camelContext.getRoutes()) {
                if (!route.getRouteId().startsWith("intake-")
                        || camelContext.getRouteController().getRouteStatus(route.getRouteId()) != ServiceStatus.Started) {
                    continue;
                }
                started++;
                listeners.activeConsumers(route.getEndpoint())
                        .filter(consumers -> consumers == 0)
                        .ifPresent(none -> withoutConsumer.put(route.getRouteId(), listeners.queues(route.getEndpoint())));
            }
            builder.detail("started_intakes", started);
            if (withoutConsumer.isEmpty()) {
                builder.up();
                return;
            }
            withoutConsumer.forEach(builder::detail);
            builder.message("started intakes without a consumer on the broker: " + withoutConsumer.keySet()
                    + " (queues " + String.join("; ", withoutConsumer.values()) + ")").down();
        }
    }
}
