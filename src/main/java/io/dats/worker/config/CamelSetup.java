package io.dats.worker.config;

import java.time.Duration;

import org.apache.camel.CamelContext;
import io.dats.worker.task.ParsedTemplateEngine;
import org.apache.camel.component.http.HttpComponent;
import org.apache.camel.component.velocity.VelocityComponent;
import org.apache.camel.spi.PropertiesFunction;
import org.apache.camel.spring.boot.CamelContextConfiguration;

import org.springframework.boot.convert.DurationStyle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Camel-wide additions the YAML routes rely on. */
@Configuration(proxyBeanMethods = false)
class CamelSetup {

    /**
     * {@code {{millis:worker.rag.timeout}}}: a Spring duration property ("5s", "1500ms", "PT2M", or plain millis)
     * as milliseconds, for endpoint options that take a number of milliseconds.
     */
    static final class MillisFunction implements PropertiesFunction {

        private final CamelContext camelContext;

        MillisFunction(CamelContext camelContext) {
            this.camelContext = camelContext;
        }

        @Override
        public String getName() {
            return "millis";
        }

        @Override
        public String apply(String remainder) {
            String value = camelContext.getPropertiesComponent().resolveProperty(remainder)
                    .orElseThrow(() -> new IllegalArgumentException("property '" + remainder + "' is not set"));
            Duration duration = DurationStyle.detectAndParse(value.trim());
            return Long.toString(duration.toMillis());
        }
    }

    @Bean
    CamelContextConfiguration workerCamelSetup(WorkerProperties properties) {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                camelContext.getPropertiesComponent().addPropertiesFunction(new MillisFunction(camelContext));
                // the http component serves only the RAG call (routes/task-pipeline.camel.yaml): its timeouts are
                // component options in Camel 4.17, so worker.rag.timeout is applied here
                long ragTimeout = properties.rag().timeout().toMillis();
                for (String scheme : new String[] {"http", "https"}) {
                    HttpComponent http = camelContext.getComponent(scheme, HttpComponent.class);
                    http.setConnectTimeout(ragTimeout);
                    http.setConnectionRequestTimeout(ragTimeout);
                    http.setResponseTimeout(ragTimeout);
                    http.setSoTimeout(ragTimeout);
                }
                // prompt templates are parsed once, not on every task (ParsedTemplateEngine)
                camelContext.getComponent("velocity", VelocityComponent.class).setVelocityEngine(new ParsedTemplateEngine());
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }
}
