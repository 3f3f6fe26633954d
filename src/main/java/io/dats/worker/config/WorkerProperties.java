package io.dats.worker.config;

import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Typed view of the {@code worker.*} configuration (config/application.yaml). {@code worker.tiers} and
 * {@code worker.domains} are the only place that lists tiers and domains: queues, chat models, per-tier routes,
 * health and metrics all follow them.
 */
@Validated
@ConfigurationProperties("worker")
public record WorkerProperties(
        @NotEmpty @Valid Map<String, Tier> tiers,
        @NotEmpty @Valid Map<String, Domain> domains,
        @NotNull @Valid Rag rag,
        @NotNull @Valid Broker broker,
        @NotNull @Valid Retry retry,
        @NotNull @Valid Images images,
        @DefaultValue("templates") String templateDir,
        @DefaultValue @Valid Api api) {

    /** Tier and domain names end up in queue names, route ids and bean names. */
    public static final Pattern NAME = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

    public WorkerProperties {
        tiers = tiers == null ? Map.of() : new LinkedHashMap<>(tiers);
        domains = domains == null ? Map.of() : new LinkedHashMap<>(domains);
        if (images == null) {
            images = new Images(4, 5 * 1024 * 1024);
        }
        if (api == null) {
            api = new Api(null, null, null, null, 32);
        }
        for (String name : tiers.keySet()) {
            requireName("worker.tiers", name);
        }
        for (Map.Entry<String, Domain> domain : domains.entrySet()) {
            requireName("worker.domains", domain.getKey());
            if (!tiers.containsKey(domain.getValue().defaultTier())) {
                throw new IllegalArgumentException("worker.domains." + domain.getKey() + ".default-tier '"
                        + domain.getValue().defaultTier() + "' is not one of the configured tiers " + tiers.keySet());
            }
        }
    }

    private static void requireName(String prefix, String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(prefix + "." + name + ": a name must be lower-case letters, digits and "
                    + "single dashes, starting with a letter (it names queues, routes and beans)");
        }
    }

    public Tier tier(String name) {
        Tier tier = tiers.get(name);
        if (tier == null) {
            throw new IllegalArgumentException("unknown tier '" + name + "'");
        }
        return tier;
    }

    public Domain domain(String name) {
        Domain domain = domains.get(name);
        if (domain == null) {
            throw new IllegalArgumentException("unknown domain '" + name + "'");
        }
        return domain;
    }

    /** The Velocity template of a domain: its {@code template} setting, or {@code <template-dir>/<domain>.vm}. */
    public String templateOf(String domainName) {
        Domain domain = domain(domainName);
        if (domain.template() != null && !domain.template().isBlank()) {
            return domain.template();
        }
        return templateDir + "/" + domainName + ".vm";
    }

    /** One LLM tier: which provider and model serve it, and how hard it may be driven. */
    public record Tier(
            @NotNull Provider provider,
            @NotNull URI baseUrl,
            @NotBlank String model,
            String apiKey,
            @Min(1) int concurrency,
            Integer consumers,
            @NotNull Duration timeout,
            @Min(1) int maxAttempts,
            @DefaultValue("4096") @Min(1) int maxOutputTokens,
            Double temperature,
            Integer contextWindow,
            @DefaultValue("auto") MaxTokensField maxTokensField,
            Map<String, String> headers,
            @DefaultValue("0") @Min(0) int requestsPerMinute,
            @DefaultValue("1m") Duration ratePeriod,
            @DefaultValue("false") boolean vision,
            @DefaultValue("20") @Min(0) int maxWaiting,
            @DefaultValue("true") boolean circuitEnabled,
            @DefaultValue("80") @Min(1) @jakarta.validation.constraints.Max(100) int circuitFailureRate,
            @DefaultValue("20") @Min(1) int circuitWindow,
            @DefaultValue("10") @Min(1) int circuitMinimumCalls,
            @DefaultValue("30s") Duration circuitOpenFor) {

        @org.springframework.boot.context.properties.bind.ConstructorBinding
        public Tier {
            headers = headers == null ? Map.of() : Map.copyOf(headers);
            circuitOpenFor = circuitOpenFor == null ? Duration.ofSeconds(30) : circuitOpenFor;
        }

        /** The tier as it was before the circuit settings (tests and code that predate them). */
        public Tier(Provider provider, URI baseUrl, String model, String apiKey, int concurrency, Integer consumers,
                    Duration timeout, int maxAttempts, int maxOutputTokens, Double temperature, Integer contextWindow,
                    MaxTokensField maxTokensField, Map<String, String> headers, int requestsPerMinute,
                    Duration ratePeriod, boolean vision, int maxWaiting) {
            this(provider, baseUrl, model, apiKey, concurrency, consumers, timeout, maxAttempts, maxOutputTokens,
                    temperature, contextWindow, maxTokensField, headers, requestsPerMinute, ratePeriod, vision,
                    maxWaiting, true, 80, 20, 10, Duration.ofSeconds(30));
        }

        public boolean hasApiKey() {
            return apiKey != null && !apiKey.isBlank();
        }

        /** Queue consumers of the tier: {@code consumers}, or as many as LLM calls may run at once. */
        public int consumerCount() {
            return consumers == null || consumers < 1 ? concurrency : consumers;
        }

        public boolean rateLimited() {
            return requestsPerMinute > 0;
        }

        /** Whether an OpenAI-compatible request carries {@code max_completion_tokens} instead of {@code max_tokens}. */
        public boolean sendsMaxCompletionTokens() {
            return switch (maxTokensField) {
                case MAX_COMPLETION_TOKENS -> true;
                case MAX_TOKENS -> false;
                // OpenAI's reasoning models (o1, o3, o4, gpt-5...) refuse max_tokens
                case AUTO -> model.toLowerCase(Locale.ROOT).matches("^(openai/)?(o\\d|gpt-5).*");
            };
        }
    }

    /** The LLM wire protocols the worker speaks. */
    public enum Provider { OLLAMA, OPENAI, ANTHROPIC }

    /** The field an OpenAI-compatible request puts the output token limit in. */
    public enum MaxTokensField { AUTO, MAX_TOKENS, MAX_COMPLETION_TOKENS }

    /** What a domain's answer is turned into: the content-based router of the pipeline chooses by it. */
    public enum Kind {
        /** Code artifacts from fenced blocks. */
        CODE,
        /** Markdown documents. */
        DOCS,
        /** UI artifacts: html, css, tsx/jsx, svg. */
        UI;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Per-domain settings: the kind of output, the tier by default, and what its Velocity template is handed. */
    public record Domain(
            @NotNull Kind kind,
            @NotBlank String defaultTier,
            @DefaultValue("text") String language,
            @DefaultValue("") String guidelines,
            String template) {
    }

    /** Limits on the {@code images} a task may carry (data URIs only). */
    public record Images(
            @DefaultValue("4") @Min(0) int maxCount,
            @DefaultValue("5242880") @Min(1) long maxBytes) {
    }

    /**
     * The REST intake: the request body limit, the {@code Retry-After} of a 429, the API keys (from a secrets file
     * named by {@code keys-file}, or {@code keys.<name>.key}/{@code .tiers} from the environment; none = open) and
     * the threads kept beyond the tiers' lines for requests that do not wait (validation errors, 429s).
     */
    public record Api(
            DataSize maxBodySize,
            Duration retryAfter,
            String keysFile,
            Map<String, ApiKey> keys,
            @DefaultValue("32") @Min(1) int threadHeadroom) {

        public Api {
            maxBodySize = maxBodySize == null ? DataSize.ofMegabytes(32) : maxBodySize;
            retryAfter = retryAfter == null ? Duration.ofSeconds(5) : retryAfter;
            keys = keys == null ? Map.of() : new LinkedHashMap<>(keys);
        }
    }

    /** One API key and the tiers it may use ({@code *} for every tier). */
    public record ApiKey(String key, java.util.List<String> tiers) {

        public ApiKey {
            tiers = tiers == null ? java.util.List.of() : java.util.List.copyOf(tiers);
        }
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
            @DefaultValue("task.unrouted") String unroutedExchange,
            @DefaultValue("worker-service.unrouted") String unroutedQueue,
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
