package io.dats.worker.observability;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurationImportFilter;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.support.SpringFactoriesLoader;

import static org.assertj.core.api.Assertions.assertThat;

class TracingSwitchTest {

    private final StandardEnvironment environment = new StandardEnvironment();

    @Test
    void turnsSpringAndCamelTracingOffWithoutAnOtlpEndpoint() {
        new TracingSwitch().postProcessEnvironment(environment, null);
        assertThat(environment.getProperty("management.tracing.enabled")).isEqualTo("false");
        assertThat(environment.getProperty("camel.opentelemetry2.enabled")).isEqualTo("false");
        assertThat(TracingSwitch.tracingOn(environment)).isFalse();
    }

    @Test
    void leavesTracingOnWhenAnEndpointIsSetEvenByASourceAddedLater() {
        new TracingSwitch().postProcessEnvironment(environment, null);
        environment.getPropertySources().addFirst(new MapPropertySource("test",
                Map.of("management.otlp.tracing.endpoint", "http://127.0.0.1:4318/v1/traces")));
        assertThat(environment.getProperty("management.tracing.enabled")).isNull();
        assertThat(environment.getProperty("camel.opentelemetry2.enabled")).isNull();
        assertThat(TracingSwitch.tracingOn(environment)).isTrue();
    }

    @Test
    void aBlankEndpointIsNoEndpoint() {
        environment.getPropertySources().addFirst(new MapPropertySource("test",
                Map.of("management.otlp.tracing.endpoint", " ")));
        new TracingSwitch().postProcessEnvironment(environment, null);
        assertThat(environment.getProperty("management.tracing.enabled")).isEqualTo("false");
    }

    @Test
    void anExplicitSettingWins() {
        environment.getPropertySources().addFirst(new MapPropertySource("test",
                Map.of("camel.opentelemetry2.enabled", "true")));
        new TracingSwitch().postProcessEnvironment(environment, null);
        assertThat(environment.getProperty("camel.opentelemetry2.enabled")).isEqualTo("true");
    }

    @Test
    void leavesSpringBootsTracerOutWithoutAnEndpointAndInWithOne() {
        String[] candidates = {"org.springframework.boot.actuate.autoconfigure.tracing.OpenTelemetryTracingAutoConfiguration",
                "org.springframework.boot.actuate.autoconfigure.observation.ObservationAutoConfiguration", null};
        TracingSwitch.AutoConfigurations filter = new TracingSwitch.AutoConfigurations();
        filter.setEnvironment(environment);
        assertThat(filter.match(candidates, null)).containsExactly(false, true, true);

        environment.getPropertySources().addFirst(new MapPropertySource("test",
                Map.of("management.otlp.tracing.endpoint", "http://127.0.0.1:4318/v1/traces")));
        assertThat(filter.match(candidates, null)).containsExactly(true, true, true);
    }

    @Test
    void theFilterIsRegisteredAndEveryExcludedNameIsAnAutoConfigurationOfThisSpringBoot() {
        assertThat(SpringFactoriesLoader.loadFactories(AutoConfigurationImportFilter.class, getClass().getClassLoader()))
                .hasAtLeastOneElementOfType(TracingSwitch.AutoConfigurations.class);
        List<String> known = ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()).getCandidates();
        assertThat(known).containsAll(TracingSwitch.TRACING_AUTO_CONFIGURATIONS);
    }
}
