package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import io.dats.worker.rag.embedded.EmbeddedRagIndex.IngestReport;
import io.dats.worker.rag.embedded.EmbeddedRagProperties.StoreType;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import org.springframework.util.unit.DataSize;

/**
 * Prints retrieval figures (documents, chunks, index time, query latency p50/p95 over 100 queries) for both stores,
 * on this checkout's own text (README, routes, templates, config, src/main: the repository has no docs/ folder) plus
 * the fixture corpus, with the service's default chunking. Measures, asserts nothing about time. Run on demand:
 * {@code ./mvnw -B test -Dtest=RetrievalFiguresTest -Drag.figures=true}
 */
@EnabledIfSystemProperty(named = "rag.figures", matches = "true")
class RetrievalFiguresTest {

    static final List<String> QUESTIONS = List.of(
            "How does the worker retry failed LLM calls?",
            "Which queue does a failed task end up in?",
            "How is the per-tier concurrency bound enforced?",
            "What does the task output event contain?",
            "How do I run the worker locally?",
            "Which environment variable sets the RabbitMQ host?",
            "How are prompts rendered for each domain?",
            "What happens when the RAG service is down?",
            "How is the admin user configured for Hawtio?",
            "Which headers are stripped from incoming messages?",
            "How are artifacts extracted from the model's answer?",
            "What is the JSON schema of a task request?",
            "How does the health endpoint decide UP or DOWN?",
            "Where is the Anthropic API key configured?",
            "How does the broker topology get declared?",
            "What is the consumer timeout check at start?",
            "How do I edit routes without restarting?",
            "Where is the telemetry ring buffer kept?",
            "Write an iterative fibonacci function",
            "How long does the worker wait before retrying?",
            "What does the REST execute endpoint answer on a timeout?",
            "Which model serves the frontier tier?",
            "How are publisher confirms used?",
            "What is the delivery limit of the tier queues?",
            "How is the embedded RAG index persisted?");

    @TempDir
    Path temp;

    @ParameterizedTest
    @EnumSource(StoreType.class)
    void printRetrievalFigures(StoreType store) throws IOException {
        Path docs = temp.resolve("docs");
        copy(Path.of("README.md"), docs.resolve("README.md"));
        for (String folder : List.of("routes", "templates", "config", "src/main")) {
            copyTree(Path.of(folder), docs.resolve(folder));
        }
        Fixtures.corpus(docs.resolve("fixtures"));
        // the service's defaults: chunk-size 1000, overlap 100, every listed extension
        EmbeddedRagProperties defaults = new EmbeddedRagProperties(docs, true, store, temp.resolve("data"), 1000, 100,
                DataSize.ofMegabytes(1), 20, 0.0, List.of("md", "markdown", "txt", "rst", "adoc", "java", "kt", "py",
                "c", "h", "cpp", "hpp", "js", "ts", "tsx", "jsx", "go", "rs", "sh", "sql", "yaml", "yml", "json", "xml",
                "properties", "toml", "vm"));
        LazyEmbeddingModel model = new LazyEmbeddingModel();
        long load = System.nanoTime();
        model.get();
        long loadMillis = (System.nanoTime() - load) / 1_000_000;
        try (EmbeddedRagIndex index = new EmbeddedRagIndex(EmbeddedRagService.openStore(defaults), model, defaults)) {
            IngestReport first = index.ingest(docs, null, null);
            IngestReport again = index.ingest(docs, null, null);
            // warm-up, then 100 queries: 25 questions x (no filter, project, domain, both)
            index.retrieve("warm up", null, null, 5);
            String[][] filters = {{null, null}, {"alpha", null}, {null, "code-general"}, {"beta", "documentation"}};
            List<Long> micros = new ArrayList<>();
            for (String[] filter : filters) {
                for (String question : QUESTIONS) {
                    long start = System.nanoTime();
                    index.retrieve(question, filter[0], filter[1], 5);
                    micros.add((System.nanoTime() - start) / 1_000);
                }
            }
            long[] sorted = micros.stream().mapToLong(Long::longValue).sorted().toArray();
            System.out.printf("%nRETRIEVAL FIGURES [%s store] model load %d ms; %d documents, %d chunks, first index %d ms "
                            + "(%.1f chunks/s), re-index unchanged %d ms; %d queries (top_k 5): p50 %.1f ms, p95 %.1f ms, "
                            + "max %.1f ms, mean %.1f ms%n%n",
                    store.name().toLowerCase(), loadMillis, first.documents(), index.chunkCount(), first.millis(),
                    first.chunks() * 1000.0 / Math.max(1, first.millis()), again.millis(), sorted.length,
                    percentile(sorted, 50), percentile(sorted, 95), sorted[sorted.length - 1] / 1000.0,
                    Arrays.stream(sorted).average().orElse(0) / 1000.0);
        }
    }

    /**
     * The stores alone at a larger size, without the model: random unit vectors of the model's 384 dimensions, so the
     * figures show the search itself (the memory store compares every chunk; Lucene walks its HNSW graph).
     */
    @ParameterizedTest
    @EnumSource(StoreType.class)
    void printStoreSearchLatencyAtScale(StoreType store) throws IOException {
        int files = 1000;
        int chunksPerFile = 20;
        java.util.Random random = new java.util.Random(42);
        EmbeddedRagProperties properties = Fixtures.properties(store, temp.resolve("data"));
        try (ChunkStore chunks = EmbeddedRagService.openStore(properties)) {
            long start = System.nanoTime();
            for (int f = 0; f < files; f++) {
                List<Chunk> fileChunks = new ArrayList<>();
                List<float[]> vectors = new ArrayList<>();
                for (int c = 0; c < chunksPerFile; c++) {
                    fileChunks.add(new Chunk("docs/file-" + f + ".md", c, "project-" + (f % 10), null, "chunk " + c));
                    vectors.add(unitVector(random));
                }
                chunks.replace("docs/file-" + f + ".md", "hash-" + f, fileChunks, vectors);
            }
            chunks.flush();
            long writeMillis = (System.nanoTime() - start) / 1_000_000;
            List<Long> micros = new ArrayList<>();
            for (int q = 0; q < 110; q++) {
                float[] query = unitVector(random);
                long t = System.nanoTime();
                chunks.search(query, 5, q % 2 == 0 ? null : "project-3", null, 0.0);
                if (q >= 10) {
                    micros.add((System.nanoTime() - t) / 1_000);
                }
            }
            long[] sorted = micros.stream().mapToLong(Long::longValue).sorted().toArray();
            System.out.printf("%nSTORE FIGURES [%s store] %d chunks written and persisted in %d ms; 100 searches (top 5, "
                            + "half filtered to one project of 10): p50 %.1f ms, p95 %.1f ms%n%n",
                    store.name().toLowerCase(), chunks.chunkCount(), writeMillis, percentile(sorted, 50),
                    percentile(sorted, 95));
        }
    }

    static float[] unitVector(java.util.Random random) {
        float[] vector = new float[384];
        double norm = 0;
        for (int i = 0; i < vector.length; i++) {
            vector[i] = (float) random.nextGaussian();
            norm += vector[i] * vector[i];
        }
        for (int i = 0; i < vector.length; i++) {
            vector[i] /= (float) Math.sqrt(norm);
        }
        return vector;
    }

    static double percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank))] / 1000.0;
    }

    static void copy(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to);
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                copy(file, to.resolve(from.relativize(file).toString()));
            }
        }
    }
}
