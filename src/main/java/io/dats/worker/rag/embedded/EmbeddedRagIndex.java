package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import dev.langchain4j.data.document.Document;
import dev.langchain4j.data.document.DocumentSplitter;
import dev.langchain4j.data.document.splitter.DocumentSplitters;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Indexes folders of documents into a {@link ChunkStore} and answers context queries from it. Ingests run one at a
 * time; queries run alongside them (Lucene swaps a file's chunks atomically; the memory store removes then adds them,
 * so a query at that instant may miss that one file).
 */
public final class EmbeddedRagIndex implements AutoCloseable {

    /** BGE v1.5's instruction for short retrieval queries (passages are embedded as they are). */
    static final String QUERY_INSTRUCTION = "Represent this sentence for searching relevant passages: ";

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRagIndex.class);

    /** What one ingest did. {@code documents} = files found; {@code chunks} = chunks written for the changed ones. */
    public record IngestReport(String folder, int documents, int indexed, int unchanged, int removed, int chunks,
                               long millis) {
    }

    /** The service's answer: the chunks as markdown, and their sources ({@code file#chunk}). */
    public record Retrieval(String context, List<String> sources) {

        public static final Retrieval EMPTY = new Retrieval("", List.of());
    }

    private final ChunkStore store;
    private final Supplier<EmbeddingModel> model;
    private final DocumentSplitter splitter;
    private final List<String> extensions;
    private final long maxBytes;
    private final int maxTopK;
    private final double minScore;
    private volatile boolean closing;

    public EmbeddedRagIndex(ChunkStore store, Supplier<EmbeddingModel> model, EmbeddedRagProperties properties) {
        this.store = store;
        this.model = model;
        this.splitter = DocumentSplitters.recursive(properties.chunkSize(), properties.chunkOverlap());
        this.extensions = properties.extensions();
        this.maxBytes = properties.maxFileSize().toBytes();
        this.maxTopK = properties.maxTopK();
        this.minScore = properties.minScore();
    }

    /**
     * Indexes every document below {@code folder}: new and changed files (by content hash) get fresh chunks, unchanged
     * ones are skipped, and files indexed from this folder before that are gone now are removed.
     */
    public synchronized IngestReport ingest(Path folder, String projectId, String domain) throws IOException {
        long start = System.nanoTime();
        DocumentFolder documents = new DocumentFolder(folder, extensions, maxBytes);
        List<DocumentFolder.SourceFile> files = documents.scan(projectId, domain);
        Map<String, String> known = store.fileHashes();
        Set<String> seen = new HashSet<>();
        int indexed = 0;
        int unchanged = 0;
        int chunks = 0;
        for (DocumentFolder.SourceFile file : files) {
            if (closing) {
                throw new IllegalStateException("the index is closing: ingest of " + folder + " stopped");
            }
            seen.add(file.name());
            if (file.hash().equals(known.get(file.name()))) {
                unchanged++;
                continue;
            }
            List<Chunk> fileChunks = chunk(file);
            store.replace(file.name(), file.hash(), fileChunks, embed(fileChunks));
            indexed++;
            chunks += fileChunks.size();
        }
        int removed = 0;
        for (String file : known.keySet()) {
            if (documents.contains(file) && !seen.contains(file)) {
                store.remove(file);
                removed++;
            }
        }
        store.flush();
        long millis = (System.nanoTime() - start) / 1_000_000;
        IngestReport report = new IngestReport(DocumentFolder.nameOf(documents.root()), files.size(), indexed,
                unchanged, removed, chunks, millis);
        LOG.info("Embedded RAG indexed {}: {} documents ({} new or changed, {} unchanged, {} removed), {} chunks "
                + "written, {} ms; the index holds {} files, {} chunks", report.folder(), report.documents(), indexed,
                unchanged, removed, chunks, millis, store.fileHashes().size(), store.chunkCount());
        return report;
    }

    private List<Chunk> chunk(DocumentFolder.SourceFile file) {
        if (file.text().isBlank()) {
            return List.of();
        }
        List<TextSegment> segments = splitter.split(Document.from(file.text()));
        List<Chunk> chunks = new ArrayList<>(segments.size());
        for (int i = 0; i < segments.size(); i++) {
            chunks.add(new Chunk(file.name(), i, file.projectId(), file.domain(), segments.get(i).text()));
        }
        return chunks;
    }

    private List<float[]> embed(List<Chunk> chunks) {
        if (chunks.isEmpty()) {
            return List.of();
        }
        List<TextSegment> segments = chunks.stream().map(chunk -> TextSegment.from(chunk.text())).toList();
        List<Embedding> embeddings = model.get().embedAll(segments).content();
        return embeddings.stream().map(Embedding::vector).toList();
    }

    /**
     * The {@code topK} chunks closest to {@code query}, of the given project and domain (null: any) or shared by all.
     * An empty index, a blank query or {@code topK <= 0} give {@link Retrieval#EMPTY} without touching the model.
     */
    public Retrieval retrieve(String query, String projectId, String domain, int topK) throws IOException {
        if (query == null || query.isBlank() || topK <= 0 || store.chunkCount() == 0) {
            return Retrieval.EMPTY;
        }
        float[] vector = model.get().embed(QUERY_INSTRUCTION + query).content().vector();
        List<ChunkStore.Hit> hits = store.search(vector, Math.min(topK, maxTopK), blankToNull(projectId),
                blankToNull(domain), minScore);
        StringBuilder context = new StringBuilder();
        List<String> sources = new ArrayList<>(hits.size());
        for (ChunkStore.Hit hit : hits) {
            if (!context.isEmpty()) {
                context.append("\n\n");
            }
            context.append("### ").append(hit.chunk().source()).append('\n').append(hit.chunk().text().strip());
            sources.add(hit.chunk().source());
        }
        return new Retrieval(context.toString(), List.copyOf(sources));
    }

    public int fileCount() {
        return store.fileHashes().size();
    }

    public int chunkCount() throws IOException {
        return store.chunkCount();
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    /** Stops a running ingest after its current file, then closes the store. */
    @Override
    public void close() throws IOException {
        closing = true;
        synchronized (this) {
            store.close();
        }
    }
}
