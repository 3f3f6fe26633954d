package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where chunks and their embeddings live. Chunks are grouped by file: a file's chunks are replaced as a whole, and
 * the store remembers each file's content hash so that unchanged files are skipped.
 */
public interface ChunkStore extends AutoCloseable {

    /** A chunk found for a query, with its relevance score (0..1, 1 the closest). */
    record Hit(Chunk chunk, double score) {
    }

    /** Indexed file → hash of the content it was indexed from. */
    Map<String, String> fileHashes();

    /** Replaces every chunk of {@code file} with {@code chunks} (embeddings in the same order). */
    void replace(String file, String hash, List<Chunk> chunks, List<float[]> embeddings) throws IOException;

    /** Forgets a file and its chunks. */
    void remove(String file) throws IOException;

    /** Makes the changes since the last call durable. */
    void flush() throws IOException;

    /**
     * The {@code maxResults} chunks closest to {@code vector}; a non-null {@code projectId}/{@code domain} keeps only
     * chunks of that project/domain and those shared by all ({@link Chunk#ANY}).
     */
    List<Hit> search(float[] vector, int maxResults, String projectId, String domain, double minScore) throws IOException;

    int chunkCount() throws IOException;

    @Override
    void close() throws IOException;
}
