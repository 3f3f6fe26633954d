package io.dats.worker.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.dats.worker.config.WorkerProperties.MaxTokensField;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;

import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.PropertySourcesPlaceholdersResolver;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.PropertySource;
import org.springframework.core.io.FileSystemResource;

/**
 * The {@link WorkerProperties} that config/application.yaml binds, for unit tests that build the beans without a
 * Spring context (bound with Spring Boot's own binder, so the tests see the committed configuration). The
 * {@code with...} methods return changed copies.
 */
public final class TestWorkerProperties {

    private TestWorkerProperties() {
    }

    /** The committed defaults of config/application.yaml. */
    public static WorkerProperties defaults() {
        try {
            List<PropertySource<?>> sources = new YamlPropertySourceLoader()
                    .load("application.yaml", new FileSystemResource("config/application.yaml"));
            Binder binder = new Binder(ConfigurationPropertySources.from(sources),
                    new PropertySourcesPlaceholdersResolver(sources));
            return binder.bind("worker", WorkerProperties.class).get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Tier tier(Provider provider, String baseUrl, String model, String apiKey, int concurrency,
                            Duration timeout, int maxAttempts) {
        return new Tier(provider, URI.create(baseUrl), model, apiKey, concurrency, null, timeout, maxAttempts, 4096, null,
                null, MaxTokensField.AUTO, Map.of(), 0, Duration.ofMinutes(1), false, 20);
    }

    /** A copy with one tier replaced. */
    public static WorkerProperties withTier(WorkerProperties properties, String name, Tier tier) {
        Map<String, Tier> tiers = new LinkedHashMap<>(properties.tiers());
        tiers.put(name, tier);
        return new WorkerProperties(tiers, properties.domains(), properties.rag(), properties.broker(), properties.retry(),
                properties.images(), properties.templateDir(), properties.api());
    }

    /** A copy of the tier with other max-attempts and timeout. */
    public static Tier withBudget(Tier tier, int maxAttempts, Duration timeout) {
        return new Tier(tier.provider(), tier.baseUrl(), tier.model(), tier.apiKey(), tier.concurrency(), tier.consumers(),
                timeout, maxAttempts, tier.maxOutputTokens(), tier.temperature(), tier.contextWindow(),
                tier.maxTokensField(), tier.headers(), tier.requestsPerMinute(), tier.ratePeriod(), tier.vision(),
                tier.maxWaiting());
    }

    /** A copy of the tier served at another base URL under another model name, with an optional API key. */
    public static Tier pointedAt(Tier tier, String baseUrl, String model, String apiKey, Duration timeout) {
        return new Tier(tier.provider(), URI.create(baseUrl), model, apiKey, tier.concurrency(), tier.consumers(),
                timeout, tier.maxAttempts(), tier.maxOutputTokens(), tier.temperature(), tier.contextWindow(),
                tier.maxTokensField(), tier.headers(), tier.requestsPerMinute(), tier.ratePeriod(), tier.vision(),
                tier.maxWaiting());
    }

    /** A copy of the tier with provider settings. */
    public static Tier withSettings(Tier tier, Double temperature, int maxOutputTokens, Integer contextWindow,
                                    MaxTokensField field, Map<String, String> headers, boolean vision) {
        return new Tier(tier.provider(), tier.baseUrl(), tier.model(), tier.apiKey(), tier.concurrency(), tier.consumers(),
                tier.timeout(), tier.maxAttempts(), maxOutputTokens, temperature, contextWindow, field, headers,
                tier.requestsPerMinute(), tier.ratePeriod(), vision, tier.maxWaiting());
    }
}
