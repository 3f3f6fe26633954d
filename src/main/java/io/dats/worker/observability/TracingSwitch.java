package io.dats.worker.observability;

import java.util.List;
import java.util.Set;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.AutoConfigurationImportFilter;
import org.springframework.boot.autoconfigure.AutoConfigurationMetadata;
import org.springframework.context.EnvironmentAware;
import org.springframework.boot.env.EnvironmentPostProcessor;
import org.springframework.core.Ordered;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.env.Environment;
import org.springframework.core.env.PropertySource;
import org.springframework.util.StringUtils;

/**
 * Tracing is on exactly when an OTLP endpoint is configured ({@code management.otlp.tracing.endpoint}, env
 * {@code MANAGEMENT_OTLP_TRACING_ENDPOINT}, e.g. {@code http://collector:4318/v1/traces}). Without one this switches
 * off Spring Boot's tracing and Camel's OpenTelemetry tracer ({@code camel.opentelemetry2.enabled}: no route policy,
 * no spans), so an untraced worker pays nothing:
 * <ul>
 * <li>{@code management.tracing.enabled=false} stops only export and propagation (spring-boot#38641): the tracer,
 * its observation handler and the OpenTelemetry SDK still made a span for every observation (each HTTP request,
 * each Spring Security filter), so the tracing auto-configurations ({@link #TRACING_AUTO_CONFIGURATIONS}) are
 * left out as well, by {@link AutoConfigurations} (an import filter: it adds to any
 * {@code spring.autoconfigure.exclude} instead of replacing it);</li>
 * <li>the answers are computed when asked, so an endpoint from any property source counts; either property set
 * explicitly still wins (this source comes last).</li>
 * </ul>
 */
public class TracingSwitch implements EnvironmentPostProcessor, Ordered {

    static final String ENDPOINT = "management.otlp.tracing.endpoint";
    static final String SOURCE = "workerTracingSwitch";
    static final Set<String> SWITCHED = Set.of("management.tracing.enabled", "camel.opentelemetry2.enabled");
    /**
     * Spring Boot's tracer (the no-op one too: with any tracer bean the metrics handler expects a span on every
     * observation), its OpenTelemetry SDK part, the OTLP exporter and the trace exemplars of the metrics.
     */
    static final List<String> TRACING_AUTO_CONFIGURATIONS = List.of(
            "org.springframework.boot.actuate.autoconfigure.tracing.MicrometerTracingAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.tracing.NoopTracerAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.tracing.OpenTelemetryTracingAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.tracing.otlp.OtlpTracingAutoConfiguration",
            "org.springframework.boot.actuate.autoconfigure.tracing.prometheus.PrometheusExemplarsAutoConfiguration");

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

    /** Leaves Spring Boot's tracing auto-configurations out when tracing is off (registered in spring.factories). */
    public static class AutoConfigurations implements AutoConfigurationImportFilter, EnvironmentAware {

        private Environment environment;

        @Override
        public void setEnvironment(Environment environment) {
            this.environment = environment;
        }

        @Override
        public boolean[] match(String[] candidates, AutoConfigurationMetadata metadata) {
            boolean off = !tracingOn(environment);
            boolean[] match = new boolean[candidates.length];
            for (int i = 0; i < candidates.length; i++) {
                // a candidate an earlier filter left out is null
                match[i] = !(off && candidates[i] != null && TRACING_AUTO_CONFIGURATIONS.contains(candidates[i]));
            }
            return match;
        }
    }
}
