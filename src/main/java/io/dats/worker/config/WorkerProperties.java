package io.dats.worker.config;

import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/** Typed view of the {@code worker.*} configuration (config/application.yaml). */
@Validated
@ConfigurationProperties("worker")
public record WorkerProperties(
        @NotEmpty @Valid Map<String, Tier> tiers,
        @NotEmpty @Valid Map<String, Domain> domains,
        @NotNull @Valid Rag rag,
        @NotNull @Valid Broker broker,
        @NotNull @Valid Retry retry) {

    /** The tiers every deployment has; each one has a queue, a chat model and an LLM route. */
    public static final List<String> TIER_NAMES = List.of("tiny", "small", "large", "coding", "frontier");

    public WorkerProperties {
        tiers = tiers == null ? Map.of() : new LinkedHashMap<>(tiers);
        domains = domains == null ? Map.of() : new LinkedHashMap<>(domains);
        for (String name : TIER_NAMES) {
            if (!tiers.containsKey(name)) {
                throw new IllegalArgumentException("worker.tiers." + name + " is not configured");
            }
        }
        for (Map.Entry<String, Domain> domain : domains.entrySet()) {
            if (!tiers.containsKey(domain.getValue().defaultTier())) {
                throw new IllegalArgumentException("worker.domains." + domain.getKey() + ".default-tier '"
                        + domain.getValue().defaultTier() + "' is not one of " + tiers.keySet());
            }
        }
    }

    public Tier tier(String name) {
        Tier tier = tiers.get(name);
        if (tier == null) {
            throw new IllegalArgumentException("unknown tier '" + name + "'");
        }
        return tier;
    }

    /** One LLM tier: which provider and model serve it, and how hard it may be driven. */
    public record Tier(
            @NotNull Provider provider,
            @NotNull URI baseUrl,
            @NotBlank String model,
            String apiKey,
            @Min(1) int concurrency,
            @NotNull Duration timeout,
            @Min(1) int maxAttempts,
            @DefaultValue("4096") @Min(1) int maxTokens,
            Double temperature) {

        public boolean hasApiKey() {
            return apiKey != null && !apiKey.isBlank();
        }
    }

    /** The LLM wire protocols the worker speaks. */
    public enum Provider { OLLAMA, OPENAI, ANTHROPIC }

    /** Per-domain settings handed to the domain's Velocity template. */
    public record Domain(
            @NotBlank String defaultTier,
            @DefaultValue("text") String language,
            @DefaultValue("") String guidelines) {
    }

    /** The RAG service's context endpoint. */
    public record Rag(
            @NotNull URI url,
            @NotNull Duration timeout,
            @DefaultValue("5") @Min(0) int topK) {
    }

    /** RabbitMQ topology and delivery settings. */
    public record Broker(
            @DefaultValue("task.events") String exchange,
            @DefaultValue("worker-service.") String queuePrefix,
            @DefaultValue("task.ready.") String readyRoutingKeyPrefix,
            @DefaultValue("task.dlx") String deadLetterExchange,
            @DefaultValue("worker-service.dead-letter") String deadLetterQueue,
            @DefaultValue("5") @Min(1) int deliveryLimit,
            @DefaultValue("1") @Min(1) int prefetch,
            @DefaultValue("30m") Duration consumerTimeout) {

        public String queue(String tier) {
            return queuePrefix + tier;
        }

        public String readyRoutingKey(String tier) {
            return readyRoutingKeyPrefix + tier;
        }
    }

    /** Backoff between LLM attempts (Camel redelivery). */
    public record Retry(
            @DefaultValue("1s") Duration initialDelay,
            @DefaultValue("2.0") double multiplier,
            @DefaultValue("30s") Duration maxDelay) {

        /** Sum of the delays before attempts 2..maxAttempts. */
        public Duration totalDelay(int maxAttempts) {
            double delay = initialDelay.toMillis();
            long total = 0;
            for (int attempt = 2; attempt <= maxAttempts; attempt++) {
                total += (long) Math.min(delay, maxDelay.toMillis());
                delay *= multiplier;
            }
            return Duration.ofMillis(total);
        }
    }
}
