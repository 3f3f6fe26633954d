package io.dats.worker.rag.embedded;

import java.nio.file.Path;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The JSON contract of the embedded RAG service's endpoints, without Spring. */
class EmbeddedRagServiceTest {

    static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path temp;

    EmbeddedRagService service;

    @BeforeEach
    void open() throws Exception {
        service = new EmbeddedRagService(Fixtures.properties(EmbeddedRagProperties.StoreType.MEMORY, temp.resolve("data")),
                MAPPER);
    }

    @AfterEach
    void close() throws Exception {
        service.destroy();
    }

    @Test
    void anEmptyIndexAnswersAnEmptyContextAndNoSources() throws Exception {
        assertThat(MAPPER.readTree(service.context(
                "{\"task_id\":\"t\",\"query\":\"anything\",\"domain\":\"code-general\",\"project_id\":null,\"top_k\":5}")))
                .isEqualTo(MAPPER.readTree("{\"context\":\"\",\"sources\":[]}"));
    }

    @Test
    void rejectsRequestsItCannotServe() {
        assertThatThrownBy(() -> service.context("{not json")).isInstanceOf(RagRequestException.class)
                .hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> service.context("[]")).isInstanceOf(RagRequestException.class);
        assertThatThrownBy(() -> service.context("{\"domain\":\"x\"}")).isInstanceOf(RagRequestException.class)
                .hasMessageContaining("'query'");
        assertThatThrownBy(() -> service.context("{\"query\":\"x\",\"top_k\":\"many\"}"))
                .isInstanceOf(RagRequestException.class).hasMessageContaining("top_k");
        assertThatThrownBy(() -> service.ingest("{}")).isInstanceOf(RagRequestException.class)
                .hasMessageContaining("'folder'");
        assertThatThrownBy(() -> service.ingest("{\"folder\":\"" + temp.resolve("missing") + "\"}"))
                .isInstanceOf(RagRequestException.class).hasMessageContaining("not a folder");
    }

    @Test
    void ingestAnswersWhatItDidAndTheContextNamesFileAndChunk() throws Exception {
        Path corpus = Fixtures.corpus(temp.resolve("corpus"));
        var report = MAPPER.readTree(service.ingest("{\"folder\":\"" + corpus + "\",\"project_id\":\"p1\"}"));
        assertThat(report.path("documents").asInt()).isEqualTo(4);
        assertThat(report.path("indexed").asInt()).isEqualTo(4);
        var answer = MAPPER.readTree(service.context("{\"query\":\"iterative fibonacci\",\"project_id\":\"p1\",\"top_k\":1}"));
        assertThat(answer.path("sources").get(0).asText()).isEqualTo(DocumentFolder.nameOf(corpus.resolve("src/Fibonacci.java")) + "#0");
        assertThat(answer.path("context").asText()).startsWith("### " + answer.path("sources").get(0).asText() + "\n");
        assertThat(MAPPER.readTree(service.status()).path("chunks").asInt()).isPositive();
    }
}
