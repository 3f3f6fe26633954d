package io.dats.worker.llm;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Once the worker has started, checks off the start path (its own thread, a short connect timeout per address)
 * whether any tier has a model it can reach: a model server accepting connections at the tier's base URL (with an
 * API key where the provider needs one), or a readable GGUF file. When none has, the worker keeps running (a model
 * server may come later) and logs one line saying what to configure, with the environment variables.
 */
@Component
public class ModelReachability {

    private static final Logger LOG = LoggerFactory.getLogger(ModelReachability.class);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);

    private final WorkerProperties properties;

    ModelReachability(WorkerProperties properties) {
        this.properties = properties;
    }

    @EventListener(ApplicationReadyEvent.class)
    void checkInBackground() {
        Thread probe = new Thread(() -> advice(properties.tiers(), CONNECT_TIMEOUT).ifPresent(LOG::warn),
                "model-reachability");
        probe.setDaemon(true);
        probe.start();
    }

    /** Why each tier cannot reach its model, by tier (absent: it can). */
    public static Map<String, String> unreachable(Map<String, Tier> tiers, Duration connectTimeout) {
        Map<String, String> reasons = new LinkedHashMap<>();
        Map<String, Boolean> answers = new LinkedHashMap<>();
        tiers.forEach((name, tier) -> problem(name, tier, connectTimeout, answers).ifPresent(r -> reasons.put(name, r)));
        return reasons;
    }

    private static Optional<String> problem(String name, Tier tier, Duration connectTimeout, Map<String, Boolean> answers) {
        if (tier.provider() == Provider.LOCAL) {
            return LocalModels.problem(name, tier).map(p -> "no GGUF file at " + tier.modelPath());
        }
        if (tier.provider() == Provider.ANTHROPIC && !tier.hasApiKey()) {
            return Optional.of("no API key");
        }
        String address = hostAndPort(tier.baseUrl());
        boolean answered = answers.computeIfAbsent(address, a -> accepts(tier.baseUrl(), connectTimeout));
        return answered ? Optional.empty() : Optional.of("nothing answers at " + tier.baseUrl());
    }

    /** The one line to log when no tier can reach a model (empty when one can). */
    public static Optional<String> advice(Map<String, Tier> tiers, Duration connectTimeout) {
        Map<String, String> unreachable = unreachable(tiers, connectTimeout);
        if (unreachable.size() < tiers.size()) {
            return Optional.empty();
        }
        List<String> why = new ArrayList<>();
        unreachable.forEach((tier, reason) -> why.add(tier + ": " + reason));
        String example = tiers.keySet().iterator().next();
        String anthropic = tiers.entrySet().stream().filter(t -> t.getValue().provider() == Provider.ANTHROPIC)
                .map(Map.Entry::getKey).findFirst().orElse(example);
        return Optional.of("No tier can reach a model (" + String.join("; ", why) + "): the worker runs, but its tasks "
                + "will fail until one of these is configured: a GGUF model file run inside the worker for every tier "
                + "(WORKER_LOCAL_MODEL=/path/model.gguf), an Ollama URL (" + env(example, "base-url")
                + "=http://host:11434), an OpenAI-compatible URL (" + env(example, "provider") + "=openai, "
                + env(example, "base-url") + "=http://host:8000/v1), or an Anthropic API key ("
                + env(anthropic, "api-key") + ")");
    }

    private static String env(String tier, String key) {
        return WorkerProperties.envVar("worker.tiers." + tier + "." + key);
    }

    private static String hostAndPort(URI url) {
        return url.getHost() + ":" + port(url);
    }

    private static int port(URI url) {
        if (url.getPort() > 0) {
            return url.getPort();
        }
        return "https".equalsIgnoreCase(url.getScheme()) ? 443 : 80;
    }

    /** Whether something accepts a TCP connection at the URL's host and port within the timeout. */
    static boolean accepts(URI url, Duration connectTimeout) {
        if (url.getHost() == null) {
            return false;
        }
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(url.getHost(), port(url)), (int) connectTimeout.toMillis());
            return true;
        } catch (IOException | IllegalArgumentException e) {
            return false;
        }
    }
}
