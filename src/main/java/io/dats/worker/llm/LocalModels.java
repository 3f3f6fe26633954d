package io.dats.worker.llm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.config.WorkerProperties.Tier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The GGUF models of the tiers with provider {@code local}, loaded once per file and context size and shared by the
 * tiers that name them (chat and streaming models alike). A model gets one sequence ("slot") per call its tiers may
 * run at once (the sum of their {@code concurrency}), at most {@code worker.local.max-slots}: llama.cpp queues the
 * calls beyond that, so they wait (serialised) rather than share a sequence. Closed, with their native memory, when
 * the application context closes.
 */
public final class LocalModels implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LocalModels.class);

    private final WorkerProperties properties;
    private final Map<String, LocalLlama> loaded = new LinkedHashMap<>();
    private final ExecutorService streams;

    public LocalModels(WorkerProperties properties) {
        this.properties = properties;
        AtomicInteger count = new AtomicInteger();
        this.streams = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "local-llm-stream-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Why the tier's GGUF file cannot be used (empty when it can): said in its tasks' failures. */
    public static Optional<String> problem(String tierName, Tier tier) {
        Path file = Path.of(tier.modelPath());
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            return Optional.of("the GGUF file " + file.toAbsolutePath() + " of tier " + tierName
                    + " does not exist or cannot be read: set " + WorkerProperties.tierSetting(tierName, "model-path")
                    + " or WORKER_LOCAL_MODEL to a GGUF model file");
        }
        return Optional.empty();
    }

    /** The loaded model of a local tier (loading it on first use). */
    public synchronized LocalLlama of(String tierName, Tier tier) {
        int context = contextPerCall(tier);
        String key = Path.of(tier.modelPath()).toAbsolutePath().normalize() + "#" + context;
        LocalLlama model = loaded.get(key);
        if (model == null) {
            int calls = properties.tiers().values().stream()
                    .filter(t -> t.provider() == Provider.LOCAL && t.hasModelPath())
                    .filter(t -> key.equals(Path.of(t.modelPath()).toAbsolutePath().normalize() + "#" + contextPerCall(t)))
                    .mapToInt(Tier::concurrency).sum();
            int slots = Math.max(1, Math.min(calls, properties.local().maxSlots()));
            long start = System.nanoTime();
            model = LocalLlama.load(Path.of(tier.modelPath()), slots, context, properties.local().threads());
            LOG.info("Local model {} loaded in {} ms: {} slot(s) of {} tokens for {} concurrent call(s) of its tiers{}",
                    tier.modelPath(), (System.nanoTime() - start) / 1_000_000, slots, context, calls,
                    slots < calls ? " (the others wait in llama.cpp's queue)" : "");
            loaded.put(key, model);
        }
        return model;
    }

    /** Tokens per call: the tier's {@code context-window}, else {@code worker.local.context-window}. */
    private int contextPerCall(Tier tier) {
        return tier.contextWindow() != null && tier.contextWindow() > 0 ? tier.contextWindow()
                : properties.local().contextWindow();
    }

    /** Where streamed answers are produced (the caller reads them as they come). */
    ExecutorService streams() {
        return streams;
    }

    @Override
    public synchronized void close() {
        streams.shutdownNow();
        loaded.values().forEach(model -> {
            LOG.info("Closing local model {}", model.file());
            model.close();
        });
        loaded.clear();
    }
}
