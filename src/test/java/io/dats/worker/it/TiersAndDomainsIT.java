package io.dats.worker.it;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.LlmCall;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.support.PluginHelper;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tiers and domains are configuration: a sixth tier and a sixth domain (its template in a temporary folder) and a
 * rate-limited seventh tier are added by properties alone, and run queued and REST tasks like the committed ones.
 * Also: provider settings and images on each provider's wire, and the request-rate limit against a server that
 * answers 429 past it.
 */
class TiersAndDomainsIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("tiers");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final Path TEMPLATES = temporaryTemplates();
    static final String RATE_MODEL = "rated-model";
    static final int RATE_LIMIT = 4;
    static final Duration RATE_PERIOD = Duration.ofSeconds(3);

    @Autowired
    CamelContext camelContext;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        // a sixth tier: an OpenAI-compatible gateway that needs max_completion_tokens and a routing header
        registry.add("worker.tiers.sixth.provider", () -> "openai");
        registry.add("worker.tiers.sixth.base-url", LLM::openAiBaseUrl);
        registry.add("worker.tiers.sixth.model", () -> "sixth-model");
        registry.add("worker.tiers.sixth.api-key", () -> "test-openai-key");
        registry.add("worker.tiers.sixth.concurrency", () -> "2");
        registry.add("worker.tiers.sixth.timeout", () -> "30s");
        registry.add("worker.tiers.sixth.max-attempts", () -> "2");
        registry.add("worker.tiers.sixth.temperature", () -> "0.3");
        registry.add("worker.tiers.sixth.max-output-tokens", () -> "321");
        registry.add("worker.tiers.sixth.max-tokens-field", () -> "max_completion_tokens");
        registry.add("worker.tiers.sixth.headers[X-Gateway-Route]", () -> "sixth-route");
        // a sixth domain: a docs kind with its template outside templates/
        registry.add("worker.domains.release-notes.kind", () -> "docs");
        registry.add("worker.domains.release-notes.default-tier", () -> "sixth");
        registry.add("worker.domains.release-notes.language", () -> "markdown");
        registry.add("worker.domains.release-notes.guidelines", () -> "Keep a changelog.");
        registry.add("worker.domains.release-notes.template", () -> TEMPLATES.resolve("release-notes.vm").toString());
        // a seventh tier whose provider allows RATE_LIMIT requests per RATE_PERIOD
        registry.add("worker.tiers.rated.provider", () -> "ollama");
        registry.add("worker.tiers.rated.base-url", LLM::ollamaBaseUrl);
        registry.add("worker.tiers.rated.model", () -> RATE_MODEL);
        registry.add("worker.tiers.rated.concurrency", () -> "6");
        registry.add("worker.tiers.rated.timeout", () -> "30s");
        registry.add("worker.tiers.rated.max-attempts", () -> "1");
        registry.add("worker.tiers.rated.requests-per-minute", () -> String.valueOf(RATE_LIMIT));
        registry.add("worker.tiers.rated.rate-period", () -> RATE_PERIOD.toMillis() + "ms");
        // provider settings and vision on the committed tiers
        registry.add("worker.tiers.tiny.vision", () -> "true");
        registry.add("worker.tiers.tiny.context-window", () -> "2048");
        registry.add("worker.tiers.tiny.max-output-tokens", () -> "123");
        registry.add("worker.tiers.tiny.temperature", () -> "0.1");
        registry.add("worker.tiers.large.vision", () -> "true");
        registry.add("worker.tiers.frontier.max-output-tokens", () -> "456");
        registry.add("worker.tiers.frontier.temperature", () -> "0.7");
        registry.add("worker.tiers.frontier.headers[X-Gateway-Route]", () -> "frontier-route");
    }

    static Path temporaryTemplates() {
        try {
            Path dir = Files.createTempDirectory("worker-templates");
            Files.writeString(dir.resolve("release-notes.vm"), """
                    ## A domain added by configuration: its template lives outside templates/
                    RELEASE NOTES WRITER for $!body.task_id ($!body.kind)
                    $!body.description
                    Guidelines: $!body.guidelines
                    """);
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void aTierAndADomainAddedByPropertiesRunQueuedAndRestTasks() throws Exception {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("# Release 2.0\n\n## Added\n- tiers from config\n\n```bash\nmake\n```\n"));

        BROKER.publishTask("sixth", task("sixth-queued", "release-notes", "Notes for 2.0"));
        HttpResponse<String> rest = execute(task("sixth-rest", "release-notes", "Notes for 2.1"));

        assertThat(rest.statusCode()).as(rest.body()).isEqualTo(200);
        for (JsonNode document : List.of(parse(rest.body()), outputs.awaitJson("sixth-queued", EVENT_TIMEOUT))) {
            assertThat(document.path("tier").asText()).isEqualTo("sixth");
            assertThat(document.path("domain").asText()).isEqualTo("release-notes");
            assertThat(document.path("model").asText()).isEqualTo("sixth-model");
            JsonNode artifacts = document.path("output").path("artifacts");
            assertThat(artifacts).hasSize(1);
            assertThat(artifacts.get(0).path("type").asText()).isEqualTo("documentation");
            assertThat(artifacts.get(0).path("path").asText()).isEqualTo("release-2-0.md");
            assertThat(artifacts.get(0).path("content").asText()).startsWith("# Release 2.0\n\n## Added\n").contains("```bash");
        }
        assertThat(outputs.awaitJson("sixth-rest", EVENT_TIMEOUT).path("tier").asText()).isEqualTo("sixth");
        assertThat(LLM.calls()).hasSize(2).allSatisfy(call -> {
            assertThat(call.model()).isEqualTo("sixth-model");
            assertThat(call.prompt()).startsWith("RELEASE NOTES WRITER for sixth-").contains("(docs)")
                    .contains("Guidelines: Keep a changelog.");
        });
        assertThat(camelContext.getRoute("intake-sixth")).isNotNull();
        assertThat(camelContext.getRoute("llm-sixth")).isNotNull();
        assertThat(BROKER.messageCount("worker-service.sixth")).isZero();
        JsonNode health = parse(send(request("/health").GET().build()).body());
        assertThat(health.path("tiers").path("sixth").path("concurrency").asInt()).isEqualTo(2);
        assertThat(health.path("tiers").path("rated").path("model").asText()).isEqualTo(RATE_MODEL);
    }

    @Test
    void theAddedTiersBoundHoldsForQueueAndRestCallersTogether() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        // longer than 10 s, like PipelineIT's bound test
        LLM.respondWith(call -> Reply.text("# Slow notes\n").delayed(Duration.ofSeconds(11)));
        List<String> queued = List.of("sixth-bound-q1", "sixth-bound-q2", "sixth-bound-q3");
        queued.forEach(id -> BROKER.publishTask("sixth", task(id, "release-notes", "slow " + id)));
        await().atMost(Duration.ofSeconds(10)).until(() -> LLM.inFlight("sixth-model") == 2);
        List<CompletableFuture<HttpResponse<String>>> rest = new ArrayList<>();
        for (int n = 0; n < 2; n++) {
            rest.add(executeAsync(task("sixth-bound-rest-" + n, "release-notes", "slow rest " + n)));
        }
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() ->
                outputs.received().keySet().containsAll(queued) && rest.stream().allMatch(CompletableFuture::isDone));

        rest.forEach(response -> assertThat(response.join().statusCode()).isEqualTo(200));
        System.out.printf("tier sixth: in-flight maximum %d of concurrency 2 over %d calls of 11 s%n",
                LLM.maxInFlight("sixth-model"), LLM.requestCount("sixth-model"));
        assertThat(LLM.maxInFlight("sixth-model")).isEqualTo(2);
        assertThat(LLM.requestCount("sixth-model")).isEqualTo(5);
    }

    @Test
    void providerSettingsArriveOnEachProvidersWire() {
        assertThat(execute(task("settings-ollama", "code-general", "x", "tiny")).statusCode()).isEqualTo(200);
        assertThat(execute(task("settings-openai", "release-notes", "x", "sixth")).statusCode()).isEqualTo(200);
        assertThat(execute(task("settings-anthropic", "code-general", "x", "frontier")).statusCode()).isEqualTo(200);

        JsonNode ollama = callOf("settings-ollama").request();
        assertThat(ollama.path("options").path("num_ctx").asInt()).isEqualTo(2048);
        assertThat(ollama.path("options").path("num_predict").asInt()).isEqualTo(123);
        assertThat(ollama.path("options").path("temperature").asDouble()).isEqualTo(0.1);

        LlmCall openAi = callOf("settings-openai");
        assertThat(openAi.request().path("max_completion_tokens").asInt()).isEqualTo(321);
        assertThat(openAi.request().has("max_tokens")).isFalse();
        assertThat(openAi.request().path("temperature").asDouble()).isEqualTo(0.3);
        assertThat(openAi.header("X-Gateway-Route")).isEqualTo("sixth-route");
        assertThat(openAi.header("Authorization")).isEqualTo("Bearer test-openai-key");

        LlmCall anthropic = callOf("settings-anthropic");
        assertThat(anthropic.request().path("max_tokens").asInt()).isEqualTo(456);
        assertThat(anthropic.request().path("temperature").asDouble()).isEqualTo(0.7);
        assertThat(anthropic.header("X-Gateway-Route")).isEqualTo("frontier-route");
        assertThat(anthropic.header("x-api-key")).isEqualTo("test-anthropic-key");

        // the committed large tier (an open model) keeps max_tokens
        assertThat(execute(task("settings-large", "code-general", "x", "large")).statusCode()).isEqualTo(200);
        assertThat(callOf("settings-large").request().path("max_tokens").asInt()).isEqualTo(4096);
    }

    @Test
    void aTaskWithTwoImagesReachesEachProviderInItsWireFormat() {
        String red = png(0xFF0000);
        String blue = png(0x0000FF);
        for (String tier : List.of("tiny", "large", "frontier")) {
            HttpResponse<String> response = execute(json(Map.of("task_id", "images-" + tier, "domain", "ui-design",
                    "tier", tier, "description", "Build this screen", "images",
                    List.of("data:image/png;base64," + red, "data:image/png;base64," + blue))));
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }

        JsonNode ollama = userMessage(callOf("images-tiny"));
        assertThat(ollama.path("images")).hasSize(2);
        assertThat(ollama.path("images").get(0).asText()).isEqualTo(red);
        assertThat(ollama.path("images").get(1).asText()).isEqualTo(blue);
        assertThat(ollama.path("content").asText()).contains("Build this screen");

        List<JsonNode> openAiImages = parts(userMessage(callOf("images-large")), "image_url");
        assertThat(openAiImages).hasSize(2);
        assertThat(openAiImages.get(0).path("image_url").path("url").asText()).isEqualTo("data:image/png;base64," + red);
        assertThat(openAiImages.get(1).path("image_url").path("url").asText()).isEqualTo("data:image/png;base64," + blue);

        List<JsonNode> anthropicImages = parts(userMessage(callOf("images-frontier")), "image");
        assertThat(anthropicImages).hasSize(2);
        assertThat(anthropicImages.get(0).path("source").path("type").asText()).isEqualTo("base64");
        assertThat(anthropicImages.get(0).path("source").path("media_type").asText()).isEqualTo("image/png");
        assertThat(anthropicImages.get(0).path("source").path("data").asText()).isEqualTo(red);
        assertThat(anthropicImages.get(1).path("source").path("data").asText()).isEqualTo(blue);
    }

    @Test
    void imagesForATierWithoutVisionAreRefusedBeforeAnyLlmCall() {
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        String body = json(Map.of("task_id", "images-small", "domain", "ui-design", "tier", "small",
                "description", "Build this screen", "images", List.of("data:image/png;base64," + png(0x00FF00))));

        HttpResponse<String> rest = execute(body);
        BROKER.publishTask("small", json(Map.of("task_id", "images-small-queued", "domain", "ui-design",
                "description", "Build this screen", "images", List.of("data:image/png;base64," + png(0x00FF00)))));

        assertThat(rest.statusCode()).isEqualTo(400);
        JsonNode error = parse(rest.body());
        assertThat(error.path("error").asText()).isEqualTo("invalid_task");
        assertThat(error.path("detail").asText()).contains("tier 'small' has no vision model");
        assertThat(error.path("task_id").asText()).isEqualTo("images-small");
        JsonNode event = failures.awaitJson("images-small-queued", EVENT_TIMEOUT);
        assertThat(event.path("error").asText()).isEqualTo("invalid_task");
        assertThat(event.path("reason").asText()).contains("no vision model");
        assertThat(event.path("attempts").asInt()).isZero();
        assertThat(LLM.calls()).isEmpty();
    }

    @Test
    void aBurstOfThreeTimesTheRequestRateLimitIsSpreadWithoutA429() {
        Deque<Long> admitted = new ConcurrentLinkedDeque<>();
        AtomicInteger tooMany = new AtomicInteger();
        // the provider: at most RATE_LIMIT requests in any RATE_PERIOD (less 150 ms of tolerance for the network)
        LLM.respondWith(call -> {
            if (!RATE_MODEL.equals(call.model())) {
                return Reply.text(FakeLlmServer.DEFAULT_TEXT);
            }
            synchronized (admitted) {
                long now = System.nanoTime();
                long window = RATE_PERIOD.minusMillis(150).toNanos();
                long recent = admitted.stream().filter(at -> now - at < window).count();
                if (recent >= RATE_LIMIT) {
                    tooMany.incrementAndGet();
                    return Reply.error(429, "rate limit exceeded");
                }
                admitted.add(now);
            }
            return Reply.text(FakeLlmServer.DEFAULT_TEXT);
        });
        int burst = 3 * RATE_LIMIT;
        long start = System.nanoTime();
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int n = 0; n < burst; n++) {
            calls.add(executeAsync(task("rated-" + n, "code-general", "burst " + n, "rated")));
        }
        calls.forEach(CompletableFuture::join);
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        System.out.printf("rate limit %d per %d ms: a burst of %d took %d ms, %d answered 429%n",
                RATE_LIMIT, RATE_PERIOD.toMillis(), burst, took.toMillis(), tooMany.get());
        calls.forEach(call -> assertThat(call.join().statusCode()).as(call.join().body()).isEqualTo(200));
        assertThat(tooMany.get()).isZero();
        assertThat(LLM.requestCount(RATE_MODEL)).isEqualTo(burst);
        // three windows' worth: the last four wait for two periods
        assertThat(took).isGreaterThanOrEqualTo(RATE_PERIOD.multipliedBy(2).minusMillis(300));
    }

    @Test
    void templatedTierRoutesDumpAsXmlForHawtio() throws Exception {
        var dumper = PluginHelper.getModelToXMLDumper(camelContext);
        for (String id : List.of("intake-sixth", "llm-sixth", "llm-rated")) {
            String xml = dumper.dumpModelAsXml(camelContext,
                    ((ModelCamelContext) camelContext).getRouteDefinition(id));
            assertThat(xml).as(id).contains("id=\"" + id + "\"");
        }
        assertThat(PluginHelper.getModelToXMLDumper(camelContext).dumpModelAsXml(camelContext,
                ((ModelCamelContext) camelContext).getRouteDefinition("llm-rated"))).contains("<throttle");
    }

    static String task(String taskId, String domain, String description, String tier) {
        return json(Map.of("task_id", taskId, "domain", domain, "description", description, "tier", tier));
    }

    static LlmCall callOf(String taskId) {
        return LLM.calls().stream().filter(call -> call.prompt().contains("(" + taskId + ")")
                        || call.prompt().contains(" " + taskId + " "))
                .findFirst().orElseThrow(() -> new AssertionError("no LLM call for " + taskId + " in " + LLM.calls()));
    }

    static JsonNode userMessage(LlmCall call) {
        for (JsonNode message : call.request().path("messages")) {
            if ("user".equals(message.path("role").asText())) {
                return message;
            }
        }
        throw new AssertionError("no user message in " + call.request());
    }

    static List<JsonNode> parts(JsonNode message, String type) {
        List<JsonNode> parts = new ArrayList<>();
        message.path("content").forEach(part -> {
            if (type.equals(part.path("type").asText())) {
                parts.add(part);
            }
        });
        return parts;
    }

    /** A real 2x2 PNG of one colour, base64. */
    static String png(int rgb) {
        BufferedImage image = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        for (int x = 0; x < 2; x++) {
            for (int y = 0; y < 2; y++) {
                image.setRGB(x, y, rgb);
            }
        }
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(image, "png", out);
            return Base64.getEncoder().encodeToString(out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
