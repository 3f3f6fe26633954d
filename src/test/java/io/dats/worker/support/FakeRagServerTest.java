package io.dats.worker.support;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeRagServer.RagReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Proves FakeRagServer speaks the RAG context JSON contract. */
class FakeRagServerTest {

    private static final String REQUEST =
            "{\"task_id\":\"t-1\",\"query\":\"parse CSV\",\"domain\":\"python\",\"project_id\":\"p-9\",\"top_k\":3}";

    private final HttpClient http = HttpClient.newHttpClient();
    private FakeRagServer server;

    @BeforeEach
    void startServer() {
        server = new FakeRagServer().start();
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    @Test
    void defaultReplyHasContextAndSourcesAndRecordsRequest() throws Exception {
        assertThat(server.url()).isEqualTo("http://127.0.0.1:" + server.port() + "/api/v1/context");

        HttpResponse<String> response = post(server.url(), REQUEST, Duration.ofSeconds(10));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        JsonNode body = LoopbackHttpServer.MAPPER.readTree(response.body());
        assertThat(body.path("context").asText())
                .isEqualTo("## Retrieved context for python\n- relevant snippet about: parse CSV");
        assertThat(body.path("sources")).hasSize(1);
        assertThat(body.path("sources").get(0).asText()).isEqualTo("doc://python/1");
        assertThat(server.requestCount()).isEqualTo(1);
        JsonNode recorded = server.requests().get(0);
        assertThat(recorded.path("task_id").asText()).isEqualTo("t-1");
        assertThat(recorded.path("project_id").asText()).isEqualTo("p-9");
        assertThat(recorded.path("top_k").asInt()).isEqualTo(3);
    }

    @Test
    void programmedContextAndEmptyReply() throws Exception {
        server.respondWith(request -> RagReply.context("## Custom", List.of("doc://a", "doc://b")));
        JsonNode custom = LoopbackHttpServer.MAPPER.readTree(post(server.url(), REQUEST, Duration.ofSeconds(10)).body());
        assertThat(custom.path("context").asText()).isEqualTo("## Custom");
        assertThat(custom.path("sources").toString()).isEqualTo("[\"doc://a\",\"doc://b\"]");

        server.respondWith(request -> RagReply.empty());
        JsonNode empty = LoopbackHttpServer.MAPPER.readTree(post(server.url(), REQUEST, Duration.ofSeconds(10)).body());
        assertThat(empty.toString()).isEqualTo("{\"context\":\"\",\"sources\":[]}");
    }

    @Test
    void errorStatusIsReturned() throws Exception {
        server.respondWith(request -> RagReply.error(503));

        HttpResponse<String> response = post(server.url(), REQUEST, Duration.ofSeconds(10));

        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(LoopbackHttpServer.MAPPER.readTree(response.body()).has("error")).isTrue();
        assertThat(server.requestCount()).isEqualTo(1);
    }

    @Test
    void delayedReplyOutlastsClientTimeout() {
        server.respondWith(request -> RagReply.empty().delayed(Duration.ofSeconds(2)));

        assertThatThrownBy(() -> post(server.url(), REQUEST, Duration.ofMillis(300)))
                .isInstanceOf(HttpTimeoutException.class);
    }

    @Test
    void badRequestsAndReset() throws Exception {
        assertThat(post(server.url(), "not json", Duration.ofSeconds(10)).statusCode()).isEqualTo(400);
        assertThat(post(server.url().replace("/context", "/other"), REQUEST, Duration.ofSeconds(10)).statusCode())
                .isEqualTo(404);
        server.respondWith(request -> RagReply.error(500));
        post(server.url(), REQUEST, Duration.ofSeconds(10));

        server.reset();

        assertThat(server.requestCount()).isZero();
        assertThat(post(server.url(), REQUEST, Duration.ofSeconds(10)).statusCode()).isEqualTo(200);
    }

    private HttpResponse<String> post(String url, String body, Duration timeout) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
