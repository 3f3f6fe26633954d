package io.dats.worker.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * The API keys of the task endpoints ({@code X-API-Key}) and the tiers each may use. Keys come from a secrets file
 * ({@code worker.api.keys-file}, env {@code WORKER_API_KEYS_FILE}: one {@code key: tier1,tier2} per line, {@code *}
 * for every tier, {@code #} comments) and/or {@code worker.api.keys.<name>.key} / {@code .tiers} (environment:
 * {@code WORKER_API_KEYS_<NAME>_KEY}, {@code WORKER_API_KEYS_<NAME>_TIERS}). Never in the repository. No key
 * configured: the API is open, and the start says so with a warning.
 */
@Component("apiKeys")
public class ApiKeys {

    public static final String HEADER = "X-API-Key";
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);

    private record Key(byte[] secret, Set<String> tiers) {
        boolean allows(String tier) {
            return tiers.contains("*") || tiers.contains(tier);
        }
    }

    private final List<Key> keys;

    ApiKeys(WorkerProperties properties) {
        List<Key> loaded = new ArrayList<>();
        String file = properties.api().keysFile();
        if (file != null && !file.isBlank()) {
            loaded.addAll(readFile(Path.of(file), properties));
        }
        for (Map.Entry<String, WorkerProperties.ApiKey> entry : properties.api().keys().entrySet()) {
            WorkerProperties.ApiKey key = entry.getValue();
            if (key.key() == null || key.key().isBlank()) {
                throw new IllegalStateException("worker.api.keys." + entry.getKey() + ".key is empty");
            }
            loaded.add(key(key.key(), key.tiers(), "worker.api.keys." + entry.getKey(), properties));
        }
        keys = List.copyOf(loaded);
        if (keys.isEmpty()) {
            LOG.warn("No API keys configured (worker.api.keys-file / WORKER_API_KEYS_FILE, worker.api.keys.*): "
                    + "/api/v1/execute is open to anyone who reaches the port, every tier included");
        } else {
            LOG.info("{} API key(s) configured: /api/v1/execute needs {}", keys.size(), HEADER);
        }
    }

    public boolean enabled() {
        return !keys.isEmpty();
    }

    /** Whether the key is one of the configured keys (always true when none are configured). */
    public boolean known(String presented) {
        return !enabled() || find(presented) != null;
    }

    /**
     * After validation (the tier is settled): 401 without a valid key, 403 when the key may not use the task's tier.
     * The key header never goes further into the worker.
     */
    public void authorize(Exchange exchange) {
        String presented = exchange.getMessage().getHeader(HEADER, String.class);
        exchange.getMessage().removeHeader(HEADER);
        if (!enabled() || !"rest".equals(exchange.getVariable(TaskVariables.SOURCE, String.class))) {
            return;
        }
        authorize(presented, exchange.getVariable(TaskVariables.TIER, String.class));
    }

    /**
     * The same rule outside a route ({@code POST /v1/infer}): 401 without a valid key, 403 when the key may not use
     * the tier; nothing when no keys are configured.
     */
    public void authorize(String presented, String tier) {
        if (!enabled()) {
            return;
        }
        Key key = find(presented);
        if (key == null) {
            throw new ApiAccessException(401, unauthorizedDetail(presented));
        }
        if (!key.allows(tier)) {
            throw new ApiAccessException(403, "this API key may not use tier '" + tier + "' (it may use "
                    + key.tiers() + ")");
        }
    }

    static String unauthorizedDetail(String presented) {
        return presented == null || presented.isBlank()
                ? "the " + HEADER + " header is missing: task endpoints need an API key"
                : "the " + HEADER + " is not a valid API key";
    }

    private Key find(String presented) {
        if (presented == null || presented.isBlank()) {
            return null;
        }
        byte[] bytes = presented.trim().getBytes(StandardCharsets.UTF_8);
        Key found = null;
        for (Key key : keys) {
            // constant time per key, and every key is compared
            if (MessageDigest.isEqual(key.secret(), bytes) && found == null) {
                found = key;
            }
        }
        return found;
    }

    private static List<Key> readFile(Path file, WorkerProperties properties) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("worker.api.keys-file " + file.toAbsolutePath() + " cannot be read", e);
        }
        List<Key> keys = new ArrayList<>();
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalStateException(file + " line " + (n + 1) + ": expected 'key: tier1,tier2'");
            }
            List<String> tiers = Arrays.stream(line.substring(colon + 1).split(",")).map(String::strip)
                    .filter(tier -> !tier.isEmpty()).toList();
            keys.add(key(line.substring(0, colon).strip(), tiers, file + " line " + (n + 1), properties));
        }
        return keys;
    }

    private static Key key(String secret, List<String> tiers, String where, WorkerProperties properties) {
        Set<String> allowed = new LinkedHashSet<>(tiers);
        if (allowed.isEmpty()) {
            throw new IllegalStateException(where + ": a key needs at least one tier ('*' for every tier)");
        }
        for (String tier : allowed) {
            if (!"*".equals(tier) && !properties.tiers().containsKey(tier)) {
                throw new IllegalStateException(where + ": unknown tier '" + tier + "', expected one of "
                        + properties.tiers().keySet() + " or *");
            }
        }
        return new Key(secret.getBytes(StandardCharsets.UTF_8), Set.copyOf(allowed));
    }
}
