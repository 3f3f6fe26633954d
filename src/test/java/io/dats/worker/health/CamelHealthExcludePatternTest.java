package io.dats.worker.health;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;
import org.apache.camel.impl.health.DefaultHealthCheckRegistry;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code camel.health.exclude-pattern} of config/application.yaml, applied by Camel's own registry: only the tier
 * intakes' route and consumer checks stay, and checks that are not about routes (the context, a tier's circuit
 * breaker) are never excluded.
 */
class CamelHealthExcludePatternTest {

    @Test
    void keepsTheTierIntakesTheContextAndOtherChecksAndExcludesEveryOtherRoute() throws IOException {
        DefaultHealthCheckRegistry registry = new DefaultHealthCheckRegistry();
        registry.setExcludePattern(excludePattern());
        for (String kept : new String[] {"route:intake-small", "consumer:intake-small", "route:intake-frontier",
                "consumer:intake-coding", "context", "circuit-small", "circuit-tiny", "route-controller"}) {
            assertThat(registry.isExcluded(check(kept))).as(kept).isFalse();
        }
        for (String excluded : new String[] {"route:llm-small", "consumer:llm-small", "route:task-list",
                "consumer:process-task", "route:rag-context", "consumer:pull-queue", "route:execute-request"}) {
            assertThat(registry.isExcluded(check(excluded))).as(excluded).isTrue();
        }
    }

    @SuppressWarnings("unchecked")
    static String excludePattern() throws IOException {
        try (InputStream in = Files.newInputStream(Path.of("config/application.yaml"))) {
            Map<String, Object> config = new Yaml().load(in);
            Map<String, Object> camel = (Map<String, Object>) config.get("camel");
            return (String) ((Map<String, Object>) camel.get("health")).get("exclude-pattern");
        }
    }

    private static HealthCheck check(String id) {
        return new AbstractHealthCheck("camel", id) {
            @Override
            protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
                builder.up();
            }
        };
    }
}
