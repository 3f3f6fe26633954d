package io.dats.worker.observability;

import java.util.Map;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.env.EnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.util.StringUtils;

/**
 * Tracing is on exactly when an OTLP endpoint is configured ({@code management.otlp.tracing.endpoint}, env
 * {@code MANAGEMENT_OTLP_TRACING_ENDPOINT}, e.g. {@code http://collector:4318/v1/traces}). Without one this switches
 * off both Spring Boot's tracing ({@code management.tracing.enabled}: no tracer, no exporter, no export attempts) and
 * Camel's OpenTelemetry tracer ({@code camel.opentelemetry2.enabled}: no route policy, no spans), so an untraced worker
 * pays nothing. Either property set explicitly still wins (this source comes last).
 */
public class TracingSwitch implements EnvironmentPostProcessor, Ordered {

    static final String ENDPOINT = "management.otlp.tracing.endpoint";
    static final String SOURCE = "workerTracingSwitch";

    /** Whether the environment names an OTLP endpoint. */
    public static boolean tracingOn(org.springframework.core.env.Environment environment) {
        return StringUtils.hasText(environment.getProperty(ENDPOINT));
    }

    @Override
    public void postProcessEnvironment(ConfigurableEnvironment environment, SpringApplication application) {
        if (!tracingOn(environment)) {
            environment.getPropertySources().addLast(new MapPropertySource(SOURCE, Map.of(
                    "management.tracing.enabled", "false",
                    "camel.opentelemetry2.enabled", "false")));
        }
    }

    @Override
    public int getOrder() {
        // after the config data (application.yaml, profiles) has been read
        return Ordered.LOWEST_PRECEDENCE;
    }
}
