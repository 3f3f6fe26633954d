package io.dats.worker.rag.embedded;

import java.nio.file.Path;
import java.util.List;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * The embedded RAG service ({@code worker.rag.embedded.*}): which folder it indexes at start, where its index lives,
 * and how documents are cut into chunks. Every key has a working default.
 */
@Validated
@ConfigurationProperties("worker.rag.embedded")
public record EmbeddedRagProperties(
        @DefaultValue("docs") @NotNull Path docs,
        @DefaultValue("true") boolean indexOnStart,
        @DefaultValue("memory") @NotNull StoreType store,
        @DefaultValue("data/rag") @NotNull Path dataDir,
        @DefaultValue("1000") @Min(100) int chunkSize,
        @DefaultValue("100") @Min(0) int chunkOverlap,
        @DefaultValue("1MB") @NotNull DataSize maxFileSize,
        @DefaultValue("20") @Min(1) int maxTopK,
        @DefaultValue("0.0") double minScore,
        @DefaultValue({"md", "markdown", "txt", "rst", "adoc", "java", "kt", "py", "c", "h", "cpp", "hpp", "js", "ts",
                "tsx", "jsx", "go", "rs", "sh", "sql", "yaml", "yml", "json", "xml", "properties", "toml", "vm"})
        List<String> extensions) {

    /** Where the chunks and their embeddings are kept. */
    public enum StoreType {
        /** LangChain4j's InMemoryEmbeddingStore, written to {@code <data-dir>/embeddings.json} after each change. */
        MEMORY,
        /** An Apache Lucene index with an HNSW vector field in {@code <data-dir>/lucene}, for large corpora. */
        LUCENE
    }

    public EmbeddedRagProperties {
        extensions = extensions == null ? List.of() : extensions.stream().map(e -> e.replaceFirst("^\\.", "").toLowerCase()).toList();
        if (chunkOverlap >= chunkSize) {
            throw new IllegalArgumentException("worker.rag.embedded.chunk-overlap (" + chunkOverlap
                    + ") must be smaller than chunk-size (" + chunkSize + ")");
        }
    }
}
