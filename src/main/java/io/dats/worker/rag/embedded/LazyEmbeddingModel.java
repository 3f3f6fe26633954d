package io.dats.worker.rag.embedded;

import java.util.function.Supplier;

import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.bgesmallenv15q.BgeSmallEnV15QuantizedEmbeddingModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * BGE small en v1.5 (quantized, 384 dimensions), run in-process by ONNX Runtime from the model file inside its jar.
 * Loaded on first use (about a second): a worker whose corpus is empty never loads it.
 */
public final class LazyEmbeddingModel implements Supplier<EmbeddingModel> {

    private static final Logger LOG = LoggerFactory.getLogger(LazyEmbeddingModel.class);

    private volatile EmbeddingModel model;

    @Override
    public EmbeddingModel get() {
        EmbeddingModel loaded = model;
        if (loaded == null) {
            synchronized (this) {
                loaded = model;
                if (loaded == null) {
                    long start = System.nanoTime();
                    loaded = new BgeSmallEnV15QuantizedEmbeddingModel();
                    LOG.info("Embedded RAG embedding model bge-small-en-v1.5-q loaded in {} ms",
                            (System.nanoTime() - start) / 1_000_000);
                    model = loaded;
                }
            }
        }
        return loaded;
    }
}
