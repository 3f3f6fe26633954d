package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TermInSetQuery;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An on-disk Apache Lucene index: one document per chunk with its embedding in a {@link KnnFloatVectorField}
 * (HNSW graph, cosine similarity) and its metadata as exact-match fields that pre-filter the vector search, plus one
 * marker document per file that holds the file's content hash. Committed after each ingest; reopened as it is on
 * the next start.
 */
public final class LuceneChunkStore implements ChunkStore {

    private static final Logger LOG = LoggerFactory.getLogger(LuceneChunkStore.class);

    private static final String KIND = "kind";
    private static final String KIND_CHUNK = "chunk";
    private static final String KIND_FILE = "file";
    private static final String ID = "id";
    private static final String FILE = "file";
    private static final String CHUNK = "chunk_index";
    private static final String PROJECT_ID = "project_id";
    private static final String DOMAIN = "domain";
    private static final String TEXT = "text";
    private static final String HASH = "hash";
    private static final String VECTOR = "vector";

    private final FSDirectory directory;
    private final IndexWriter writer;
    private final SearcherManager searchers;

    public LuceneChunkStore(Path dir) throws IOException {
        Files.createDirectories(dir);
        this.directory = FSDirectory.open(dir);
        IndexWriterConfig config = new IndexWriterConfig()
                .setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND);
        this.writer = new IndexWriter(directory, config);
        this.searchers = new SearcherManager(writer, null);
        LOG.info("Embedded RAG Lucene index opened at {}: {} files, {} chunks", dir, fileHashes().size(), chunkCount());
    }

    @Override
    public Map<String, String> fileHashes() {
        try {
            IndexSearcher searcher = searchers.acquire();
            try {
                Query files = new TermQuery(new Term(KIND, KIND_FILE));
                int count = searcher.count(files);
                Map<String, String> hashes = new HashMap<>();
                if (count == 0) {
                    return hashes;
                }
                StoredFields stored = searcher.storedFields();
                for (ScoreDoc doc : searcher.search(files, count).scoreDocs) {
                    Document document = stored.document(doc.doc);
                    hashes.put(document.get(FILE), document.get(HASH));
                }
                return hashes;
            } finally {
                searchers.release(searcher);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the Lucene index: " + e.getMessage(), e);
        }
    }

    @Override
    public void replace(String file, String hash, List<Chunk> chunks, List<float[]> embeddings) throws IOException {
        List<Document> documents = new ArrayList<>(chunks.size() + 1);
        Document marker = new Document();
        marker.add(new StringField(KIND, KIND_FILE, Field.Store.NO));
        marker.add(new StringField(FILE, file, Field.Store.YES));
        marker.add(new StoredField(HASH, hash));
        documents.add(marker);
        for (int i = 0; i < chunks.size(); i++) {
            Chunk chunk = chunks.get(i);
            Document document = new Document();
            document.add(new StringField(KIND, KIND_CHUNK, Field.Store.NO));
            document.add(new StringField(ID, chunk.id(), Field.Store.YES));
            document.add(new StringField(FILE, chunk.file(), Field.Store.YES));
            document.add(new StoredField(CHUNK, chunk.index()));
            document.add(new StringField(PROJECT_ID, chunk.projectId(), Field.Store.YES));
            document.add(new StringField(DOMAIN, chunk.domain(), Field.Store.YES));
            document.add(new StoredField(TEXT, chunk.text()));
            document.add(new KnnFloatVectorField(VECTOR, embeddings.get(i), VectorSimilarityFunction.COSINE));
            documents.add(document);
        }
        // one atomic update: readers see the old chunks or the new ones, never neither
        writer.updateDocuments(new Term(FILE, file), documents);
    }

    @Override
    public void remove(String file) throws IOException {
        writer.deleteDocuments(new Term(FILE, file));
    }

    @Override
    public void flush() throws IOException {
        writer.commit();
        searchers.maybeRefreshBlocking();
    }

    @Override
    public List<Hit> search(float[] vector, int maxResults, String projectId, String domain, double minScore) throws IOException {
        BooleanQuery.Builder filter = new BooleanQuery.Builder()
                .add(new TermQuery(new Term(KIND, KIND_CHUNK)), BooleanClause.Occur.FILTER);
        if (projectId != null) {
            filter.add(new TermInSetQuery(PROJECT_ID, List.of(new BytesRef(projectId), new BytesRef(Chunk.ANY))),
                    BooleanClause.Occur.FILTER);
        }
        if (domain != null) {
            filter.add(new TermInSetQuery(DOMAIN, List.of(new BytesRef(domain), new BytesRef(Chunk.ANY))),
                    BooleanClause.Occur.FILTER);
        }
        IndexSearcher searcher = searchers.acquire();
        try {
            TopDocs top = searcher.search(new KnnFloatVectorQuery(VECTOR, vector, maxResults, filter.build()), maxResults);
            StoredFields stored = searcher.storedFields();
            List<Hit> hits = new ArrayList<>(top.scoreDocs.length);
            for (ScoreDoc doc : top.scoreDocs) {
                // Lucene's cosine score is (1 + cos) / 2, the same scale as LangChain4j's relevance score
                if (doc.score < minScore) {
                    continue;
                }
                Document document = stored.document(doc.doc);
                hits.add(new Hit(new Chunk(document.get(FILE), document.getField(CHUNK).numericValue().intValue(),
                        document.get(PROJECT_ID), document.get(DOMAIN), document.get(TEXT)), doc.score));
            }
            return hits;
        } finally {
            searchers.release(searcher);
        }
    }

    @Override
    public int chunkCount() throws IOException {
        IndexSearcher searcher = searchers.acquire();
        try {
            return searcher.count(new TermQuery(new Term(KIND, KIND_CHUNK)));
        } finally {
            searchers.release(searcher);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            searchers.close();
            writer.close();
        } finally {
            directory.close();
        }
    }
}
