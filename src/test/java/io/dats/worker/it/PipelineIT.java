package io.dats.worker.it;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer.RagReply;
import org.apache.camel.CamelContext;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.support.PluginHelper;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.Message;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.amqp.core.MessageBuilder;
import org.springframework.amqp.core.MessageDeliveryMode;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The worker end to end: queue and REST intake, every provider, outcome events, the per-tier bound. */
class PipelineIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("pipeline");
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);
    static final List<String> TIERS = List.of("tiny", "small", "large", "coding", "frontier");
    static final List<String> DOMAINS = List.of("code-general", "code-vision", "code-embedded", "documentation", "ui-design");
    static final Map<String, String> PROVIDERS = Map.of("tiny", FakeLlmServer.OLLAMA, "small", FakeLlmServer.OLLAMA,
            "coding", FakeLlmServer.OLLAMA, "large", FakeLlmServer.OPENAI, "frontier", FakeLlmServer.ANTHROPIC);
    static final Duration CALL_TIME = Duration.ofSeconds(16);
    static final Map<String, Integer> CONCURRENCY = Map.of("tiny", 10, "small", 5, "large", 2, "coding", 2, "frontier", 1);

    @Autowired
    CamelContext camelContext;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
    }

    @Test
    void everyTiersProviderAnswersThroughItsWireFormat() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        LLM.respondWith(call -> Reply.text("Done.\n\n```python src/" + call.provider() + ".py\nprint('" + call.model() + "')\n```\n")
                .withUsage(100, 23));
        for (String tier : TIERS) {
            BROKER.publishTask(tier, json(Map.of("task_id", "provider-" + tier, "domain", "code-general",
                    "description", "Create fibonacci function", "context", "## Previous Implementation\nnone",
                    "project_id", "proj-456")));
        }
        for (String tier : TIERS) {
            Message message = outputs.await("provider-" + tier, EVENT_TIMEOUT);
            assertThat(message.getMessageProperties().getContentType()).isEqualTo("application/json");
            assertThat(message.getMessageProperties().getMessageId()).isEqualTo("provider-" + tier);
            assertThat(message.getMessageProperties().getReceivedDeliveryMode()).isEqualTo(MessageDeliveryMode.PERSISTENT);
            JsonNode event = parse(TestBroker.body(message));
            assertThat(event.path("status").asText()).isEqualTo("completed");
            assertThat(event.path("tier").asText()).isEqualTo(tier);
            assertThat(event.path("domain").asText()).isEqualTo("code-general");
            assertThat(event.path("model").asText()).isEqualTo(MODELS.get(tier));
            assertThat(event.path("tokens_used").asInt()).isEqualTo(123);
            assertThat(event.path("rag").asText()).isEqualTo("used");
            assertThat(event.path("artifact_id").asText()).startsWith("art-");
            assertThat(event.path("execution_time_ms").asLong()).isGreaterThanOrEqualTo(0);
            JsonNode artifact = event.path("output").path("artifacts").get(0);
            assertThat(artifact.path("type").asText()).isEqualTo("code");
            assertThat(artifact.path("language").asText()).isEqualTo("python");
            assertThat(artifact.path("path").asText()).isEqualTo("src/" + PROVIDERS.get(tier) + ".py");
            assertThat(artifact.path("content").asText()).isEqualTo("print('" + MODELS.get(tier) + "')\n");
        }
        for (String tier : TIERS) {
            FakeLlmServer.LlmCall call = LLM.calls().stream().filter(c -> c.model().equals(MODELS.get(tier))).findFirst()
                    .orElseThrow();
            assertThat(call.provider()).isEqualTo(PROVIDERS.get(tier));
            assertThat(call.streaming()).isFalse();
            assertThat(call.prompt())
                    .contains("Create fibonacci function")
                    .contains("## Previous Implementation")
                    .contains("relevant snippet about: Create fibonacci function");
        }
        assertThat(RAG.requests()).anySatisfy(request -> {
            assertThat(request.path("task_id").asText()).isEqualTo("provider-small");
            assertThat(request.path("query").asText()).isEqualTo("Create fibonacci function");
            assertThat(request.path("domain").asText()).isEqualTo("code-general");
            assertThat(request.path("project_id").asText()).isEqualTo("proj-456");
            assertThat(request.path("top_k").asInt()).isEqualTo(5);
        });
    }

    @Test
    void batchOverAllTiersAndDomainsEndsInExactlyOneOutcomePerTask() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox failures = EventInbox.events(BROKER, "task.failed");
        List<String> valid = new ArrayList<>();
        for (String tier : TIERS) {
            for (String domain : DOMAINS) {
                for (int n = 0; n < 2; n++) {
                    String id = "batch-" + tier + "-" + domain + "-" + n;
                    valid.add(id);
                    BROKER.publishTask(tier, task(id, domain, "Write task " + id));
                }
            }
        }
        Map<String, String> invalid = new LinkedHashMap<>();
        invalid.put("batch-bad-domain", task("batch-bad-domain", "cooking", "Bake bread"));
        invalid.put("batch-no-description", json(Map.of("task_id", "batch-no-description", "domain", "code-general")));
        invalid.put("batch-bad-tier", json(Map.of("task_id", "batch-bad-tier", "domain", "code-general",
                "description", "x", "tier", "gigantic")));
        invalid.forEach((id, body) -> BROKER.publishTask("small", body));
        BROKER.publishTask("tiny", "this is { not json");

        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                outputs.received().keySet().containsAll(valid)
                        && failures.received().keySet().containsAll(invalid.keySet()));
        // no second outcome turns up for any task
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() ->
                valid.stream().allMatch(id -> outputs.of(id).size() == 1 && failures.of(id).isEmpty())
                        && invalid.keySet().stream().allMatch(id -> failures.of(id).size() == 1 && outputs.of(id).isEmpty()));

        for (String id : valid) {
            JsonNode event = parse(TestBroker.body(outputs.of(id).get(0)));
            assertThat(event.path("tier").asText()).isEqualTo(id.split("-")[1]);
        }
        JsonNode badDomain = parse(TestBroker.body(failures.of("batch-bad-domain").get(0)));
        assertThat(badDomain.path("error").asText()).isEqualTo("invalid_task");
        assertThat(badDomain.path("reason").asText()).contains("unknown domain 'cooking', expected one of [code-general");
        assertThat(badDomain.path("tier").asText()).isEqualTo("small");
        assertThat(badDomain.path("attempts").asInt()).isZero();
        assertThat(parse(TestBroker.body(failures.of("batch-no-description").get(0))).path("reason").asText())
                .contains("description");
        assertThat(parse(TestBroker.body(failures.of("batch-bad-tier").get(0))).path("reason").asText())
                .contains("unknown tier 'gigantic'");
        // the not-JSON message: a failure event without task id, and the original kept in the dead-letter queue
        EventInbox deadLetters = EventInbox.queue(BROKER, "worker-service.dead-letter");
        Message original = deadLetters.await("this is { not json", EVENT_TIMEOUT);
        assertThat(original.getMessageProperties().getHeaders()).containsEntry("x-failure-error", "invalid_task");
        assertThat(original.getMessageProperties().getReceivedRoutingKey()).isEqualTo("task.ready.tiny");
        for (String id : invalid.keySet()) {
            assertThat(TestBroker.body(deadLetters.await(id, EVENT_TIMEOUT))).isEqualTo(invalid.get(id));
        }
        assertThat(LLM.calls()).noneMatch(call -> call.prompt().contains("Bake bread"));
    }

    @Test
    void inFlightCallsPerTierNeverExceedTheTierConcurrencyWithLongCallsFromQueueAndRest() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        // every call takes longer than 10 s (the Throttle EIP's ConcurrentRequests over-admits past that)
        LLM.respondWith(call -> Reply.text("```python\nslow = True\n```").delayed(CALL_TIME));
        List<String> queued = new ArrayList<>();
        for (String tier : TIERS) {
            for (int n = 0; n < CONCURRENCY.get(tier); n++) {
                String id = "bound-queue-" + tier + "-" + n;
                queued.add(id);
                BROKER.publishTask(tier, task(id, "code-general", "slow " + id));
            }
        }
        // the queue saturates every tier...
        await().atMost(Duration.ofSeconds(10)).until(() ->
                TIERS.stream().allMatch(tier -> LLM.inFlight(MODELS.get(tier)) == CONCURRENCY.get(tier)));
        // ...so REST calls for the same tiers wait for a free slot: two call times, longer than a servlet
        // container's default async timeout (30 s)
        long restStart = System.nanoTime();
        List<CompletableFuture<HttpResponse<String>>> rest = new ArrayList<>();
        for (String tier : TIERS) {
            for (int n = 0; n < CONCURRENCY.get(tier); n++) {
                rest.add(executeAsync(json(Map.of("task_id", "bound-rest-" + tier + "-" + n, "domain", "code-general",
                        "tier", tier, "description", "slow rest " + n))));
            }
        }
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).until(() ->
                outputs.received().keySet().containsAll(queued) && rest.stream().allMatch(CompletableFuture::isDone));
        long restSeconds = Duration.ofNanos(System.nanoTime() - restStart).toSeconds();

        for (CompletableFuture<HttpResponse<String>> response : rest) {
            assertThat(response.join().statusCode()).isEqualTo(200);
            assertThat(parse(response.join().body()).path("status").asText()).isEqualTo("completed");
        }
        System.out.printf("REST calls queued behind the bound answered 200 after %d s%n", restSeconds);
        for (String tier : TIERS) {
            String model = MODELS.get(tier);
            System.out.printf("in-flight maximum for tier %s (%s): %d of concurrency %d, %d calls of %d s%n",
                    tier, model, LLM.maxInFlight(model), CONCURRENCY.get(tier), LLM.requestCount(model),
                    CALL_TIME.toSeconds());
            assertThat(LLM.maxInFlight(model)).as("max in flight for " + tier).isEqualTo(CONCURRENCY.get(tier));
            assertThat(LLM.requestCount(model)).isEqualTo(2 * CONCURRENCY.get(tier));
        }
    }

    @Test
    void restExecuteAnswersWithTheOutputDocumentAndPublishesIt() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        HttpResponse<String> response = execute(task("rest-1", "code-vision", "Detect edges in an image"));

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("application/json"));
        JsonNode document = parse(response.body());
        assertThat(document.path("task_id").asText()).isEqualTo("rest-1");
        // no tier in the body: the domain's default tier (code-vision -> large, OpenAI-compatible)
        assertThat(document.path("tier").asText()).isEqualTo("large");
        assertThat(document.path("model").asText()).isEqualTo(MODELS.get("large"));
        assertThat(document.path("output").path("content").asText()).isEqualTo(FakeLlmServer.DEFAULT_TEXT);
        assertThat(outputs.awaitJson("rest-1", EVENT_TIMEOUT)).isEqualTo(document);
        assertThat(response.headers().map().keySet()).noneMatch(name -> name.toLowerCase().startsWith("camel"));
    }

    @Test
    void restRejectsInvalidTasksWith400AndAJsonError() {
        HttpResponse<String> missing = execute(json(Map.of("task_id", "rest-bad", "domain", "code-general")));
        assertThat(missing.statusCode()).isEqualTo(400);
        assertThat(parse(missing.body()).path("error").asText()).isEqualTo("invalid_task");
        assertThat(parse(missing.body()).path("detail").asText()).contains("description");

        HttpResponse<String> notJson = execute("{not json");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(parse(notJson.body()).path("detail").asText()).contains("not valid JSON");

        HttpResponse<String> form = send(request("/api/v1/execute")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("task_id=x&domain=code-general")).build());
        assertThat(form.statusCode()).isBetween(400, 499);
        assertThat(parse(form.body()).has("error")).isTrue();
        assertThat(LLM.calls()).isEmpty();
    }

    @Test
    void withoutApiKeysConfiguredTheTaskEndpointIsOpen() {
        // this context configures no key (RestIntakeIT's does): no X-API-Key is needed, and one sent is ignored
        assertThat(execute(task("open-no-key", "code-general", "Hello")).statusCode()).isEqualTo(200);
        HttpResponse<String> withKey = send(request("/api/v1/execute").header("Content-Type", "application/json")
                .header("X-API-Key", "anything").POST(HttpRequest.BodyPublishers.ofString(task("open-any-key", "code-general", "Hello"))).build());
        assertThat(withKey.statusCode()).isEqualTo(200);
    }

    @Test
    void healthAnswersUpOnBothPathsWithoutAuthentication() {
        for (String path : List.of("/health", "/api/v1/health")) {
            HttpResponse<String> response = send(request(path).GET().build());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(parse(response.body()).path("status").asText()).isEqualTo("UP");
            assertThat(parse(response.body()).path("rabbitmq").asText()).isEqualTo("UP");
        }
    }

    @Test
    void actuatorJolokiaAndHawtioNeedAnAdmin() {
        String basic = "Basic " + java.util.Base64.getEncoder()
                .encodeToString((ADMIN_USER + ":" + ADMIN_PASSWORD).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String wrong = "Basic " + java.util.Base64.getEncoder()
                .encodeToString((ADMIN_USER + ":wrong").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String state = "/actuator/jolokia/read/org.apache.camel:context=llm-task-worker,type=context,name=%22llm-task-worker%22/State";
        for (String path : List.of("/actuator/health", "/actuator/metrics", "/actuator/hawtio/", state)) {
            assertThat(send(request(path).GET().build()).statusCode()).as(path).isEqualTo(401);
            assertThat(send(request(path).header("Authorization", wrong).GET().build()).statusCode()).as(path).isEqualTo(401);
            assertThat(send(request(path).header("Authorization", basic).GET().build()).statusCode()).as(path).isEqualTo(200);
        }
        HttpResponse<String> jolokia = send(request(state).header("Authorization", basic).GET().build());
        assertThat(parse(jolokia.body()).path("value").asText()).isEqualTo("Started");
        // a state-changing Jolokia call without the CSRF token is refused even for an admin
        HttpResponse<String> exec = send(request("/actuator/jolokia").header("Authorization", basic)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"type\":\"exec\",\"mbean\":\"org.apache.camel:context=llm-task-worker,"
                        + "type=routes,name=\\\"intake-tiny\\\"\",\"operation\":\"stop()\"}")).build());
        assertThat(exec.statusCode()).isEqualTo(403);
        assertThat(camelContext.getRouteController().getRouteStatus("intake-tiny").isStarted()).isTrue();
    }

    @Test
    void unavailableRagServiceDoesNotFailTheTask() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        RAG.respondWith(request -> RagReply.error(503));
        BROKER.publishTask("small", task("rag-down", "documentation", "Document the API"));
        assertThat(outputs.awaitJson("rag-down", EVENT_TIMEOUT).path("rag").asText()).isEqualTo("unavailable");

        RAG.respondWith(request -> RagReply.context("late", List.of()).delayed(Duration.ofSeconds(3)));
        BROKER.publishTask("small", task("rag-slow", "documentation", "Document the API"));
        assertThat(outputs.awaitJson("rag-slow", EVENT_TIMEOUT).path("rag").asText()).isEqualTo("unavailable");

        RAG.respondWith(request -> RagReply.empty());
        BROKER.publishTask("small", task("rag-empty", "documentation", "Document the API"));
        assertThat(outputs.awaitJson("rag-empty", EVENT_TIMEOUT).path("rag").asText()).isEqualTo("empty");
    }

    @Test
    void inboundCamelHeadersCannotRedirectTheOutcome() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox hijacked = EventInbox.events(BROKER, "hijacked");
        BROKER.publish("task.ready.small", MessageBuilder.withBody(task("headers-1", "code-general", "Hello")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .setContentType("application/json")
                .setHeader("CamelSpringRabbitmqRoutingOverrideKey", "hijacked")
                .setHeader("camelspringrabbitmqexchangeoverridename", "amq.topic")
                .setHeader("CAMELLANGCHAIN4JCHATAUGMENTEDDATA", "injected")
                .setReplyTo("hijacked")
                .build());
        JsonNode event = outputs.awaitJson("headers-1", EVENT_TIMEOUT);
        assertThat(event.path("status").asText()).isEqualTo("completed");
        assertThat(hijacked.received()).isEmpty();

        HttpResponse<String> response = send(request("/api/v1/execute")
                .header("Content-Type", "application/json")
                .header("CamelHttpResponseCode", "299")
                .header("camelSpringRabbitmqRoutingOverrideKey", "hijacked")
                .POST(HttpRequest.BodyPublishers.ofString(task("headers-2", "code-general", "Hello"))).build());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(outputs.awaitJson("headers-2", EVENT_TIMEOUT).path("status").asText()).isEqualTo("completed");
        assertThat(hijacked.received()).isEmpty();
    }

    @Test
    void everyRouteDumpsAsXmlForHawtiosDiagramAndSourceViews() throws Exception {
        ModelCamelContext model = (ModelCamelContext) camelContext;
        assertThat(model.getRouteDefinitions()).hasSizeGreaterThanOrEqualTo(20);
        for (RouteDefinition route : model.getRouteDefinitions()) {
            String xml = PluginHelper.getModelToXMLDumper(camelContext).dumpModelAsXml(camelContext, route);
            assertThat(xml).as(route.getRouteId()).contains("id=\"" + route.getRouteId() + "\"");
        }
    }

    @Test
    void taskTextIsNeverEvaluatedAsATemplate() {
        String description = "#set($x = 'pwned')$x ${camelContext} $body.description #foreach($i in [1..3])$i#end";
        HttpResponse<String> response = execute(task("velocity-1", "ui-design", description));
        assertThat(response.statusCode()).isEqualTo(200);
        FakeLlmServer.LlmCall call = LLM.calls().get(0);
        assertThat(call.prompt()).contains(description).doesNotContain("pwned pwned").doesNotContain("123");
    }
}
