package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.data.document.Metadata;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.store.embedding.EmbeddingMatch;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.filter.Filter;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static dev.langchain4j.store.embedding.filter.MetadataFilterBuilder.metadataKey;

/**
 * LangChain4j's {@link InMemoryEmbeddingStore}, persisted to {@code <dir>/embeddings.json} (the store's own JSON
 * format) with {@code <dir>/files.json} (indexed file → content hash) beside it. Both are written to a temporary file
 * and moved into place, so a crash never leaves a half-written index.
 */
public final class MemoryChunkStore implements ChunkStore {

    static final String FILE = "file";
    static final String CHUNK = "chunk";
    static final String PROJECT_ID = "project_id";
    static final String DOMAIN = "domain";

    private static final Logger LOG = LoggerFactory.getLogger(MemoryChunkStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path storeFile;
    private final Path filesFile;
    private final InMemoryEmbeddingStore<TextSegment> store;
    private final Map<String, String> hashes = new ConcurrentHashMap<>();
    private final Map<String, Integer> chunksPerFile = new ConcurrentHashMap<>();
    private volatile boolean dirty;

    public MemoryChunkStore(Path dir) throws IOException {
        Files.createDirectories(dir);
        this.storeFile = dir.resolve("embeddings.json");
        this.filesFile = dir.resolve("files.json");
        if (Files.exists(storeFile) && Files.exists(filesFile)) {
            this.store = InMemoryEmbeddingStore.fromFile(storeFile);
            Map<String, FileEntry> files = JSON.readValue(filesFile.toFile(), new TypeReference<Map<String, FileEntry>>() { });
            files.forEach((file, entry) -> {
                hashes.put(file, entry.hash());
                chunksPerFile.put(file, entry.chunks());
            });
            LOG.info("Embedded RAG memory store loaded from {}: {} files", storeFile, hashes.size());
        } else {
            this.store = new InMemoryEmbeddingStore<>();
        }
    }

    record FileEntry(String hash, int chunks) {
    }

    @Override
    public Map<String, String> fileHashes() {
        return Map.copyOf(hashes);
    }

    @Override
    public synchronized void replace(String file, String hash, List<Chunk> chunks, List<float[]> embeddings) {
        store.removeAll(metadataKey(FILE).isEqualTo(file));
        List<String> ids = new ArrayList<>(chunks.size());
        List<Embedding> vectors = new ArrayList<>(chunks.size());
        List<TextSegment> segments = new ArrayList<>(chunks.size());
        for (int i = 0; i < chunks.size(); i++) {
            Chunk chunk = chunks.get(i);
            ids.add(chunk.id());
            vectors.add(Embedding.from(embeddings.get(i)));
            segments.add(TextSegment.from(chunk.text(), new Metadata()
                    .put(FILE, chunk.file())
                    .put(CHUNK, chunk.index())
                    .put(PROJECT_ID, chunk.projectId())
                    .put(DOMAIN, chunk.domain())));
        }
        if (!ids.isEmpty()) {
            store.addAll(ids, vectors, segments);
        }
        hashes.put(file, hash);
        chunksPerFile.put(file, chunks.size());
        dirty = true;
    }

    @Override
    public synchronized void remove(String file) {
        store.removeAll(metadataKey(FILE).isEqualTo(file));
        hashes.remove(file);
        chunksPerFile.remove(file);
        dirty = true;
    }

    @Override
    public synchronized void flush() throws IOException {
        if (!dirty) {
            return;
        }
        writeAtomically(storeFile, store.serializeToJson());
        Map<String, FileEntry> files = new TreeMap<>();
        hashes.forEach((file, hash) -> files.put(file, new FileEntry(hash, chunksPerFile.getOrDefault(file, 0))));
        writeAtomically(filesFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(files));
        dirty = false;
    }

    private static void writeAtomically(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public List<Hit> search(float[] vector, int maxResults, String projectId, String domain, double minScore) {
        Filter filter = null;
        if (projectId != null) {
            filter = metadataKey(PROJECT_ID).isIn(projectId, Chunk.ANY);
        }
        if (domain != null) {
            Filter byDomain = metadataKey(DOMAIN).isIn(domain, Chunk.ANY);
            filter = filter == null ? byDomain : filter.and(byDomain);
        }
        List<EmbeddingMatch<TextSegment>> matches = store.search(EmbeddingSearchRequest.builder()
                .queryEmbedding(Embedding.from(vector))
                .maxResults(maxResults)
                .minScore(minScore)
                .filter(filter)
                .build()).matches();
        List<Hit> hits = new ArrayList<>(matches.size());
        for (EmbeddingMatch<TextSegment> match : matches) {
            Metadata metadata = match.embedded().metadata();
            hits.add(new Hit(new Chunk(metadata.getString(FILE), metadata.getInteger(CHUNK), metadata.getString(PROJECT_ID),
                    metadata.getString(DOMAIN), match.embedded().text()), match.score()));
        }
        return hits;
    }

    @Override
    public int chunkCount() {
        return chunksPerFile.values().stream().mapToInt(Integer::intValue).sum();
    }

    @Override
    public void close() throws IOException {
        flush();
    }
}
