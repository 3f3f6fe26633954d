package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.stereotype.Component;

/**
 * The embedded RAG service behind routes/rag-service.camel.yaml: the JSON contract of the context and ingest
 * endpoints around an {@link EmbeddedRagIndex}, and the index of {@code worker.rag.embedded.docs} built in the
 * background once the worker has started (queries answer from whatever is indexed so far).
 */
@Component("embeddedRag")
public class EmbeddedRagService implements DisposableBean, SmartInitializingSingleton {

    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedRagService.class);

    private final EmbeddedRagProperties properties;
    private final ObjectMapper mapper;
    private final EmbeddedRagIndex index;
    private final ExecutorService indexer = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "rag-indexer");
        thread.setDaemon(true);
        return thread;
    });
    private volatile String startupIndex = "pending";

    EmbeddedRagService(EmbeddedRagProperties properties, ObjectMapper mapper) throws IOException {
        this.properties = properties;
        this.mapper = mapper;
        this.index = new EmbeddedRagIndex(openStore(properties), new LazyEmbeddingModel(), properties);
    }

    static ChunkStore openStore(EmbeddedRagProperties properties) throws IOException {
        return switch (properties.store()) {
            case MEMORY -> new MemoryChunkStore(properties.dataDir());
            case LUCENE -> new LuceneChunkStore(properties.dataDir().resolve("lucene"));
        };
    }

    /**
     * Indexes {@code worker.rag.embedded.docs} on a background thread once the beans are made: the worker does not wait
     * for it. (Not on ApplicationReadyEvent: in a test JVM with several cached contexts that event was seen to miss
     * a context, leaving the index "pending".)
     */
    @Override
    public void afterSingletonsInstantiated() {
        indexOnStart();
    }

    void indexOnStart() {
        if (!properties.indexOnStart()) {
            startupIndex = "off";
            return;
        }
        Path docs = properties.docs();
        if (!Files.isDirectory(docs)) {
            startupIndex = "no folder";
            LOG.info("Embedded RAG: no folder '{}' to index (worker.rag.embedded.docs); {} files, {} chunks in the "
                    + "{} store; POST /rag/api/v1/ingest indexes a folder", docs, index.fileCount(), chunkCount(),
                    properties.store().name().toLowerCase());
            return;
        }
        startupIndex = "running";
        LOG.info("Embedded RAG: indexing '{}' in the background", docs);
        indexer.submit(() -> {
            try {
                index.ingest(docs, null, null);
                startupIndex = "done";
            } catch (Exception e) {
                startupIndex = "failed: " + e.getMessage();
                LOG.error("Embedded RAG: indexing {} failed: {}", docs, e.toString());
            }
        });
    }

    /** {@code {task_id, query, domain, project_id, top_k}} → {@code {context, sources}}. */
    public String context(String body) throws IOException {
        JsonNode request = parse(body);
        JsonNode query = request.get("query");
        if (query == null || !query.isTextual()) {
            throw new RagRequestException("'query' (a string) is required");
        }
        JsonNode topK = request.path("top_k");
        if (!topK.isMissingNode() && !topK.isNull() && !topK.canConvertToInt()) {
            throw new RagRequestException("'top_k' must be an integer");
        }
        EmbeddedRagIndex.Retrieval retrieval = index.retrieve(query.asText(), text(request, "project_id"),
                text(request, "domain"), topK.isMissingNode() || topK.isNull() ? 5 : topK.asInt());
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("context", retrieval.context());
        answer.put("sources", retrieval.sources());
        return mapper.writeValueAsString(answer);
    }

    /** {@code {"folder", "project_id"?, "domain"?}} → what was indexed. Runs in the caller's thread. */
    public String ingest(String body) throws IOException {
        JsonNode request = parse(body);
        String folder = text(request, "folder");
        if (folder == null) {
            throw new RagRequestException("'folder' (a path on the worker's machine) is required");
        }
        Path path = Path.of(folder);
        if (!Files.isDirectory(path)) {
            throw new RagRequestException("not a folder on the worker's machine: " + path.toAbsolutePath().normalize());
        }
        return mapper.writeValueAsString(index.ingest(path, text(request, "project_id"), text(request, "domain")));
    }

    /** What is indexed, and how far the start-up index got. */
    public String status() throws JsonProcessingException {
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("store", properties.store().name().toLowerCase());
        status.put("docs", properties.docs().toString());
        status.put("startup_index", startupIndex);
        status.put("files", index.fileCount());
        status.put("chunks", chunkCount());
        return mapper.writeValueAsString(status);
    }

    /** The start-up index: pending, running, done, no folder, off, or failed: reason. */
    public String startupIndex() {
        return startupIndex;
    }

    /** The JSON error body of a failed request: {@code {"error", "detail"}}. */
    public String error(Exchange exchange) throws JsonProcessingException {
        Exception failure = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Exception.class);
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("error", failure instanceof RagRequestException ? "invalid_request" : "rag_failed");
        error.put("detail", failure == null ? "unknown" : String.valueOf(failure.getMessage()));
        return mapper.writeValueAsString(error);
    }

    EmbeddedRagIndex index() {
        return index;
    }

    private int chunkCount() {
        try {
            return index.chunkCount();
        } catch (IOException e) {
            return -1;
        }
    }

    private JsonNode parse(String body) {
        try {
            JsonNode node = body == null || body.isBlank() ? null : mapper.readTree(body);
            if (node == null || !node.isObject()) {
                throw new RagRequestException("the request body must be a JSON object");
            }
            return node;
        } catch (JsonProcessingException e) {
            throw new RagRequestException("the request body is not valid JSON: " + e.getOriginalMessage());
        }
    }

    private static String text(JsonNode request, String field) {
        JsonNode value = request.get(field);
        return value == null || value.isNull() || value.asText().isBlank() ? null : value.asText().trim();
    }

    @Override
    public void destroy() throws Exception {
        indexer.shutdown();
        index.close();
        indexer.awaitTermination(10, TimeUnit.SECONDS);
    }
}
