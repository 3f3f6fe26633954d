package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.dats.worker.rag.embedded.EmbeddedRagIndex.IngestReport;
import io.dats.worker.rag.embedded.EmbeddedRagIndex.Retrieval;
import io.dats.worker.rag.embedded.EmbeddedRagProperties.StoreType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Indexing and retrieval with the real embedding model (bge-small-en-v1.5-q) on both stores: the same behaviour from
 * the in-memory store (persisted to a file) and the Lucene HNSW index, including after a restart.
 */
class EmbeddedRagIndexTest {

    /** Loaded once for the class (about a second); the model is stateless. */
    static final LazyEmbeddingModel MODEL = new LazyEmbeddingModel();

    @TempDir
    Path temp;

    EmbeddedRagIndex open(StoreType store) throws IOException {
        EmbeddedRagProperties properties = Fixtures.properties(store, temp.resolve("data"));
        return new EmbeddedRagIndex(EmbeddedRagService.openStore(properties), MODEL, properties);
    }

    static String name(Path file) {
        return DocumentFolder.nameOf(file);
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void retrievesTheChunkThatAnswersTheQuery(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        try (EmbeddedRagIndex index = open(store)) {
            IngestReport report = index.ingest(corpus, null, null);
            assertThat(report.documents()).isEqualTo(4);
            assertThat(report.indexed()).isEqualTo(4);
            assertThat(report.chunks()).isGreaterThan(4);
            assertThat(index.chunkCount()).isEqualTo(report.chunks());

            Retrieval answer = index.retrieve("How long does the worker wait before retrying a failed model call?", null, null, 3);
            assertThat(answer.sources()).hasSizeLessThanOrEqualTo(3).isNotEmpty();
            assertThat(answer.sources().get(0)).startsWith(name(corpus.resolve("guide.md")) + "#");
            assertThat(answer.context()).startsWith("### " + answer.sources().get(0) + "\n");
            assertThat(answer.context().split("\n### ")[0]).contains("exponential backoff");

            Retrieval code = index.retrieve("iterative fibonacci without recursion", null, null, 1);
            assertThat(code.sources()).containsExactly(name(corpus.resolve("src/Fibonacci.java")) + "#0");
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void filtersByProjectAndDomainKeepingSharedDocuments(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        String alpha = name(corpus.resolve("projects/alpha/telemetry.md")) + "#0";
        String beta = name(corpus.resolve("projects/beta/telemetry.md")) + "#0";
        try (EmbeddedRagIndex index = open(store)) {
            index.ingest(corpus, null, null);
            String query = "Where is the telemetry ring buffer kept?";

            assertThat(index.retrieve(query, null, null, 20).sources()).contains(alpha, beta);
            assertThat(index.retrieve(query, "alpha", null, 20).sources()).contains(alpha).doesNotContain(beta)
                    .anyMatch(source -> source.contains("guide.md"));
            assertThat(index.retrieve(query, "beta", null, 20).sources().get(0)).isEqualTo(beta);
            assertThat(index.retrieve(query, "beta", null, 20).sources()).doesNotContain(alpha);
            // alpha's sidecar says domain code-embedded: other domains do not see it, beta (no domain) is shared
            assertThat(index.retrieve(query, null, "documentation", 20).sources()).doesNotContain(alpha).contains(beta);
            assertThat(index.retrieve(query, null, "code-embedded", 20).sources()).contains(alpha, beta);
            assertThat(index.retrieve(query, "gamma", null, 20).sources()).doesNotContain(alpha, beta);
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void reindexingReplacesAChangedFilesChunksAndSkipsUnchangedOnes(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        try (EmbeddedRagIndex index = open(store)) {
            index.ingest(corpus, null, null);
            int before = index.chunkCount();

            IngestReport again = index.ingest(corpus, null, null);
            assertThat(again.indexed()).isZero();
            assertThat(again.unchanged()).isEqualTo(4);
            assertThat(index.chunkCount()).isEqualTo(before);

            Fixtures.write(corpus.resolve("guide.md"), Fixtures.GUIDE.replace(Fixtures.RETRY_SECTION, """
                    ## Retry policy

                    Failed model calls are never retried: the task is dead-lettered at once with its reason.
                    """));
            IngestReport changed = index.ingest(corpus, null, null);
            assertThat(changed.indexed()).isEqualTo(1);
            assertThat(changed.unchanged()).isEqualTo(3);

            Retrieval answer = index.retrieve("How does the worker retry failed model calls?", null, null, 20);
            assertThat(answer.context()).doesNotContain("exponential backoff").contains("never retried");
            assertThat(answer.sources()).doesNotHaveDuplicates();
            assertThat(index.chunkCount()).isEqualTo(answer.sources().size());

            Files.delete(corpus.resolve("src/Fibonacci.java"));
            IngestReport removed = index.ingest(corpus, null, null);
            assertThat(removed.removed()).isEqualTo(1);
            assertThat(index.retrieve("fibonacci", null, null, 20).sources()).noneMatch(s -> s.contains("Fibonacci.java"));
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void theIndexSurvivesARestart(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        List<String> sources;
        int chunks;
        try (EmbeddedRagIndex index = open(store)) {
            index.ingest(corpus, null, null);
            chunks = index.chunkCount();
            sources = index.retrieve("exponential backoff between retries", "alpha", null, 4).sources();
        }
        try (EmbeddedRagIndex reopened = open(store)) {
            assertThat(reopened.chunkCount()).isEqualTo(chunks);
            assertThat(reopened.fileCount()).isEqualTo(4);
            assertThat(reopened.retrieve("exponential backoff between retries", "alpha", null, 4).sources())
                    .isEqualTo(sources);
            IngestReport again = reopened.ingest(corpus, null, null);
            assertThat(again.unchanged()).isEqualTo(4);
            assertThat(again.indexed()).isZero();
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void ingestRequestMetadataOverridesTheSidecars(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        try (EmbeddedRagIndex index = open(store)) {
            index.ingest(corpus, "omega", null);
            assertThat(index.retrieve("telemetry ring buffer", "alpha", null, 20).sources()).isEmpty();
            assertThat(index.retrieve("telemetry ring buffer", "omega", null, 20).sources()).hasSize(index.chunkCount());
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void ingestingAnotherFolderKeepsTheFirstOnesDocuments(StoreType store) throws IOException {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        Path other = temp.resolve("other");
        Fixtures.write(other.resolve("glossary.md"), "# Glossary\n\nA quokka is a dead-lettered task.\n");
        try (EmbeddedRagIndex index = open(store)) {
            index.ingest(corpus, null, null);
            IngestReport second = index.ingest(other, null, null);
            assertThat(second.removed()).isZero();
            assertThat(index.fileCount()).isEqualTo(5);
            assertThat(index.ingest(corpus, null, null).removed()).isZero();
            assertThat(index.retrieve("what is a quokka", null, null, 1).sources())
                    .containsExactly(name(other.resolve("glossary.md")) + "#0");
        }
    }

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void anEmptyCorpusAnswersAnEmptyContext(StoreType store) throws IOException {
        Files.createDirectories(temp.resolve("empty"));
        try (EmbeddedRagIndex index = open(store)) {
            assertThat(index.ingest(temp.resolve("empty"), null, null).documents()).isZero();
            assertThat(index.retrieve("anything", null, null, 5)).isEqualTo(Retrieval.EMPTY);
        }
    }
}
