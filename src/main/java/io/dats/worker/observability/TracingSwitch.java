package io.dats.worker.observability;

import java.util.Set;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.env.EnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.Environment;
import org.springframework.core.env.PropertySource;
import org.springframework.util.StringUtils;

/**
 * Tracing is on exactly when an OTLP endpoint is configured ({@code management.otlp.tracing.endpoint}, env
 * {@code MANAGEMENT_OTLP_TRACING_ENDPOINT}, e.g. {@code http://collector:4318/v1/traces}). Without one this switches
 * off both Spring Boot's tracing ({@code management.tracing.enabled}: no tracer, no exporter, no export attempts) and
 * Camel's OpenTelemetry tracer ({@code camel.opentelemetry2.enabled}: no route policy, no spans), so an untraced worker
 * pays nothing. The two answers are computed when asked, so an endpoint from any property source counts; either
 * property set explicitly still wins (this source comes last).
 */
public class TracingSwitch implements EnvironmentPostProcessor, Ordered {

    static final String ENDPOINT = "management.otlp.tracing.endpoint";
    static final String SOURCE = "workerTracingSwitch";
    static final Set<String> SWITCHED = Set.of("management.tracing.enabled", "camel.opentelemetry2.enabled");

    /** Whether the environment names an OTLP endpoint. */
    public static boolean tracingOn(Environment environment) {
        return StringUtils.hasText(environment.getProperty(ENDPOINT));
    }

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        // the source object must not be the environment itself: Boot walks into property sources whose source is
        // an environment, which would be this environment's own list again, for ever
        environment.getPropertySources().addLast(new PropertySource<>(SOURCE, SWITCHED) {
            @Override
            public Object getProperty(String name) {
                return SWITCHED.contains(name) && !tracingOn(environment) ? "false" : null;
            }
        });
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }
}
