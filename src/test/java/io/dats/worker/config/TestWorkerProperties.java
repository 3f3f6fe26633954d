package io.dats.worker.config;

import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import io.dats.worker.config.WorkerProperties.Broker;
import io.dats.worker.config.WorkerProperties.Domain;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Rag;
import io.dats.worker.config.WorkerProperties.Retry;
import io.dats.worker.config.WorkerProperties.Tier;

/**
 * A {@link WorkerProperties} like the one config/application.yaml binds (five tiers, five domains), for unit tests
 * that build the beans without a Spring context. The {@code with...} methods return changed copies.
 */
public final class TestWorkerProperties {

    private TestWorkerProperties() {
    }

    /** The committed defaults of config/application.yaml. */
    public static WorkerProperties defaults() {
        Map<String, Tier> tiers = new LinkedHashMap<>();
        tiers.put("tiny", tier(Provider.OLLAMA, "http://localhost:11434", "gemma3:4b", null, 10, Duration.ofSeconds(60), 3));
        tiers.put("small", tier(Provider.OLLAMA, "http://localhost:11434", "gemma3:12b", null, 5, Duration.ofSeconds(120), 3));
        tiers.put("large", tier(Provider.OPENAI, "http://localhost:8000/v1", "openai/gpt-oss-20b", null, 2,
                Duration.ofSeconds(300), 3));
        tiers.put("coding", tier(Provider.OLLAMA, "http://localhost:11434", "qwen3-coder:30b-a3b-q8_0-64k", null, 2,
                Duration.ofSeconds(300), 3));
        tiers.put("frontier", tier(Provider.ANTHROPIC, "https://api.anthropic.com/v1/", "claude-sonnet-4-20250514", null, 1,
                Duration.ofSeconds(600), 2));

        Map<String, Domain> domains = new LinkedHashMap<>();
        domains.put("code-general", new Domain("small", "python", "Write idiomatic, tested, production-quality code."));
        domains.put("code-vision", new Domain("large", "python",
                "Computer-vision code; state the libraries used (OpenCV, NumPy, PyTorch) and image/tensor shapes."));
        domains.put("code-embedded", new Domain("small", "c",
                "Embedded C for constrained targets; no dynamic allocation, explicit integer widths, ISR-safe code."));
        domains.put("documentation", new Domain("small", "markdown", "Clear technical documentation in Markdown with examples."));
        domains.put("ui-design", new Domain("large", "tsx",
                "Accessible, responsive UI components (React + TypeScript) with semantic HTML."));

        return new WorkerProperties(tiers, domains,
                new Rag(URI.create("http://localhost:8001/api/v1/context"), Duration.ofSeconds(5), 5),
                new Broker("task.events", "worker-service.", "task.ready.", "task.dlx", "worker-service.dead-letter", 5, 1,
                        Duration.ofMinutes(30)),
                new Retry(Duration.ofSeconds(1), 2.0, Duration.ofSeconds(30)));
    }

    public static Tier tier(Provider provider, String baseUrl, String model, String apiKey, int concurrency,
                            Duration timeout, int maxAttempts) {
        return new Tier(provider, URI.create(baseUrl), model, apiKey, concurrency, timeout, maxAttempts, 4096, null);
    }

    /** A copy with one tier replaced. */
    public static WorkerProperties withTier(WorkerProperties properties, String name, Tier tier) {
        Map<String, Tier> tiers = new LinkedHashMap<>(properties.tiers());
        tiers.put(name, tier);
        return new WorkerProperties(tiers, properties.domains(), properties.rag(), properties.broker(), properties.retry());
    }

    /** A copy of the tier with other max-attempts and timeout. */
    public static Tier withBudget(Tier tier, int maxAttempts, Duration timeout) {
        return new Tier(tier.provider(), tier.baseUrl(), tier.model(), tier.apiKey(), tier.concurrency(), timeout,
                maxAttempts, tier.maxTokens(), tier.temperature());
    }

    /** A copy of the tier served at another base URL under another model name, with an optional API key. */
    public static Tier pointedAt(Tier tier, String baseUrl, String model, String apiKey, Duration timeout) {
        return new Tier(tier.provider(), URI.create(baseUrl), model, apiKey, tier.concurrency(), timeout,
                tier.maxAttempts(), tier.maxTokens(), tier.temperature());
    }
}
