package io.dats.worker.rag.embedded;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * One indexed piece of a document. {@code projectId}/{@code domain} are {@link #ANY} for a document that belongs to
 * no particular project or domain (it then matches every query).
 */
public record Chunk(String file, int index, String projectId, String domain, String text) {

    /** Metadata value of a chunk shared by every project (or domain). */
    public static final String ANY = "*";

    public Chunk {
        projectId = projectId == null || projectId.isBlank() ? ANY : projectId;
        domain = domain == null || domain.isBlank() ? ANY : domain;
    }

    /** How the answer names this chunk: {@code docs/guide.md#3}. */
    public String source() {
        return file + "#" + index;
    }

    /** Stable id: re-indexing the same file position gives the same id. */
    public String id() {
        return UUID.nameUUIDFromBytes(source().getBytes(StandardCharsets.UTF_8)).toString();
    }
}
