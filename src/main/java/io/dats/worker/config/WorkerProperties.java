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
import org.springframework.boot.context.properties.bind.ConstructorBinding;
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
        @DefaultValue @Valid Api api,
        @DefaultValue @Valid Local local) {

    /** Tier and domain names end up in queue names, route ids and bean names. */
    public static final Pattern NAME = Pattern.compile("[a-z][a-z0-9]*(-[a-z0-9]+)*");

    /** The settings without {@code worker.local} (no tier switched to an in-JVM model). */
    public WorkerProperties(Map<String, Tier> tiers, Map<String, Domain> domains, Rag rag, Broker broker, Retry retry,
                            Images images, String templateDir, Api api) {
        this(tiers, domains, rag, broker, retry, images, templateDir, api, null);
    }

    @ConstructorBinding
    public WorkerProperties {
        tiers = tiers == null ? Map.of() : new LinkedHashMap<>(tiers);
        if (local == null) {
            local = new Local(null, 4096, 4, 0);
        }
        if (local.enabled()) {
            // one setting (WORKER_LOCAL_MODEL) runs every tier on the in-JVM model: each keeps its bound and budget
            for (Map.Entry<String, Tier> tier : tiers.entrySet()) {
                tier.setValue(tier.getValue().onLocalModel(local));
            }
        }
        for (Map.Entry<String, Tier> tier : tiers.entrySet()) {
            if (tier.getValue().provider() == Provider.LOCAL && !tier.getValue().hasModelPath()) {
                throw new IllegalArgumentException("worker.tiers." + tier.getKey() + " has provider local but no GGUF "
                        + "file: set " + tierSetting(tier.getKey(), "model-path") + ", or WORKER_LOCAL_MODEL for "
                        + "every tier");
            }
        }
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

    /**
     * A tier's setting and the environment variable Spring's relaxed binding maps to it, for messages that tell the
     * user what to configure: {@code worker.tiers.small.base-url (environment variable WORKER_TIERS_SMALL_BASE_URL)}.
     */
    public static String tierSetting(String tier, String key) {
        return "worker.tiers." + tier + "." + key + " (environment variable " + envVar("worker.tiers." + tier + "." + key)
                + ")";
    }

    /** The environment variable of a property under Spring's relaxed binding ({@code worker.tiers.small.base-url} is
     * {@code WORKER_TIERS_SMALL_BASE_URL}). */
    public static String envVar(String property) {
        return property.replace(".", "_").replace("-", "_").toUpperCase(Locale.ROOT);
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
            String modelPath,
            @DefaultValue("true") boolean circuitEnabled,
            @DefaultValue("80") @Min(1) @jakarta.validation.constraints.Max(100) int circuitFailureRate,
            @DefaultValue("20") @Min(1) int circuitWindow,
            @DefaultValue("10") @Min(1) int circuitMinimumCalls,
            @DefaultValue("30s") Duration circuitOpenFor) {

        /** A tier served by a model server (no GGUF file), with the default circuit settings. */
        public Tier(Provider provider, URI baseUrl, String model, String apiKey, int concurrency, Integer consumers,
                    Duration timeout, int maxAttempts, int maxOutputTokens, Double temperature, Integer contextWindow,
                    MaxTokensField maxTokensField, Map<String, String> headers, int requestsPerMinute,
                    Duration ratePeriod, boolean vision, int maxWaiting) {
            this(provider, baseUrl, model, apiKey, concurrency, consumers, timeout, maxAttempts, maxOutputTokens,
                    temperature, contextWindow, maxTokensField, headers, requestsPerMinute, ratePeriod, vision,
                    maxWaiting, (String) null);
        }

        /** A tier with the default circuit settings. */
        public Tier(Provider provider, URI baseUrl, String model, String apiKey, int concurrency, Integer consumers,
                    Duration timeout, int maxAttempts, int maxOutputTokens, Double temperature, Integer contextWindow,
                    MaxTokensField maxTokensField, Map<String, String> headers, int requestsPerMinute,
                    Duration ratePeriod, boolean vision, int maxWaiting, String modelPath) {
            this(provider, baseUrl, model, apiKey, concurrency, consumers, timeout, maxAttempts, maxOutputTokens,
                    temperature, contextWindow, maxTokensField, headers, requestsPerMinute, ratePeriod, vision,
                    maxWaiting, modelPath, true, 80, 20, 10, Duration.ofSeconds(30));
        }

        @ConstructorBinding
        public Tier {
            headers = headers == null ? Map.of() : Map.copyOf(headers);
            circuitOpenFor = circuitOpenFor == null ? Duration.ofSeconds(30) : circuitOpenFor;
            modelPath = modelPath == null || modelPath.isBlank() ? null : modelPath.trim();
            if (provider == Provider.LOCAL && modelPath != null) {
                // an in-JVM model has no server: its address is the file and its name the file's name (a base-url or
                // model left from the tier's server, e.g. when only the provider was switched, would be misleading)
                baseUrl = java.nio.file.Path.of(modelPath).toAbsolutePath().toUri();
                model = java.nio.file.Path.of(modelPath).getFileName().toString();
            }
        }

        public boolean hasModelPath() {
            return modelPath != null;
        }

        /** This tier run by the in-JVM model of {@code worker.local}: same bound, budget, output and circuit settings. */
        Tier onLocalModel(Local local) {
            java.nio.file.Path file = java.nio.file.Path.of(local.modelPath().trim());
            return new Tier(Provider.LOCAL, file.toAbsolutePath().toUri(), file.getFileName().toString(), null,
                    concurrency, consumers, timeout, maxAttempts, maxOutputTokens, temperature, local.contextWindow(),
                    MaxTokensField.AUTO, Map.of(), 0, ratePeriod, false, maxWaiting, local.modelPath().trim(),
                    circuitEnabled, circuitFailureRate, circuitWindow, circuitMinimumCalls, circuitOpenFor);
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

    /** The LLM wire protocols the worker speaks, and {@code local}: a GGUF model run inside the worker (llama.cpp). */
    public enum Provider { OLLAMA, OPENAI, ANTHROPIC, LOCAL }

    /**
     * The in-JVM model (llama.cpp, provider {@code local}). {@code model-path} ({@code WORKER_LOCAL_MODEL}) switches
     * every tier to that GGUF file, each tier with {@code context-window} tokens per call. Tiers using one file share
     * one loaded model with one sequence ("slot") per call the tiers may run at once, at most {@code max-slots}; calls
     * beyond that wait in llama.cpp's queue. {@code threads}: CPU threads of llama.cpp (0 = its default).
     */
    public record Local(
            String modelPath,
            @DefaultValue("4096") @Min(64) int contextWindow,
            @DefaultValue("4") @Min(1) int maxSlots,
            @DefaultValue("0") @Min(0) int threads) {

        public boolean enabled() {
            return modelPath != null && !modelPath.isBlank();
        }
    }

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

        /** A priority lane of the tier: {@code worker-service.<tier>} for normal, else {@code worker-service.<tier>.<priority>}. */
        public String queue(String tier, io.dats.worker.priority.Priority priority) {
            return queue(tier) + priority.laneSuffix();
        }

        /** The routing key of a priority lane: {@code task.ready.<tier>}, or {@code task.ready.<tier>.<priority>}. */
        public String readyRoutingKey(String tier, io.dats.worker.priority.Priority priority) {
            return readyRoutingKey(tier) + priority.laneSuffix();
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
