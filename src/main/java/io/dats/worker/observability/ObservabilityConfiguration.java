package io.dats.worker.observability;

import org.apache.camel.CamelContext;
import org.apache.camel.spi.UnitOfWorkFactory;
import org.apache.camel.spring.boot.CamelContextConfiguration;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/** The task keys in the log lines' MDC ({@link TaskMdcUnitOfWork}); tracing is switched by {@link TracingSwitch}. */
@Configuration(proxyBeanMethods = false)
class ObservabilityConfiguration {

    @Bean
    CamelContextConfiguration taskMdcLogging(Environment environment) {
        boolean tracing = TracingSwitch.tracingOn(environment);
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                camelContext.getCamelContextExtension()
                        .addContextPlugin(UnitOfWorkFactory.class, new TaskMdcUnitOfWorkFactory(tracing));
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }
}
