package io.dats.worker.routes;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import dev.langchain4j.rag.content.Content;
import io.dats.worker.WorkerApplication;
import io.dats.worker.it.TestBroker;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.LlmCall;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import io.dats.worker.support.FakeRagServer.RagReply;
import org.apache.camel.CamelContext;
import org.apache.camel.api.management.ManagedCamelContext;
import org.apache.camel.Endpoint;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.builder.AdviceWith;
import org.apache.camel.component.mock.MockEndpoint;
import org.apache.camel.test.spring.junit5.CamelSpringBootTest;
import org.apache.camel.test.spring.junit5.UseAdviceWith;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The real routes/ files in the Spring Boot application, with the RabbitMQ publishes of publish-output,
 * publish-failure and keep-original woven to mocks (so nothing is published), intake-small fed from a direct endpoint
 * (a delivered message), Velocity and the langchain4j-chat calls observed through mocks, and the LLM tiers and the
 * RAG service as loopback fakes speaking the real wire formats.
 */
@CamelSpringBootTest
@UseAdviceWith
@org.apache.camel.test.spring.junit5.DisableJmx(false)
@SpringBootTest(classes = WorkerApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {
                "worker.rag.timeout=500ms",
                "spring.datasource.url=jdbc:h2:mem:route-test;DB_CLOSE_DELAY=-1",
                "worker.retry.initial-delay=10ms",
                "worker.retry.max-delay=40ms",
                "worker.tiers.coding.timeout=700ms",
                "worker.tiers.coding.max-attempts=2",
                "worker.tiers.frontier.api-key=sk-ant-route-test"
        })
class TaskPipelineRouteTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final List<String> DOMAINS =
            List.of("code-general", "code-vision", "code-embedded", "documentation", "ui-design");
    private static final List<String> INJECTED_HEADERS = List.of(
            "CamelSpringRabbitmqExchangeOverrideName", "camelspringrabbitmqroutingoverridekey",
            "CAMELLANGCHAIN4JCHATAUGMENTEDDATA");
    private static final String INJECTED_AUGMENTED_DATA = "INJECTED-AUGMENTED-DATA";
    private static final Pattern N = Pattern.compile("n=(\\d+)");

    private static final FakeLlmServer LLM = new FakeLlmServer().start();
    private static final FakeRagServer RAG = new FakeRagServer().start();
    private static final JsonSchema OUTPUT_SCHEMA = outputSchema();
    private static boolean advised;
    private static final String FAIL_BEFORE_MODEL = "route-fail-before-model";
    private static final java.util.concurrent.atomic.AtomicInteger failuresBeforeModel =
            new java.util.concurrent.atomic.AtomicInteger();

    @Autowired
    private CamelContext camelContext;

    @Autowired
    private ProducerTemplate template;

    @LocalServerPort
    private int port;

    @DynamicPropertySource
    static void endpoints(DynamicPropertyRegistry registry) {
        registry.add("spring.rabbitmq.virtual-host", () -> TestBroker.shared().vhost);
        registry.add("worker.rag.url", RAG::url);
        for (String tier : List.of("tiny", "small", "coding")) {
            registry.add("worker.tiers." + tier + ".provider", () -> "ollama");
            registry.add("worker.tiers." + tier + ".base-url", LLM::ollamaBaseUrl);
            registry.add("worker.tiers." + tier + ".model", () -> tier + "-model");
        }
        registry.add("worker.tiers.large.provider", () -> "openai");
        registry.add("worker.tiers.large.base-url", LLM::openAiBaseUrl);
        registry.add("worker.tiers.large.model", () -> "large-model");
        registry.add("worker.tiers.frontier.provider", () -> "anthropic");
        registry.add("worker.tiers.frontier.base-url", LLM::anthropicBaseUrl);
        registry.add("worker.tiers.frontier.model", () -> "frontier-model");
    }

    @AfterAll
    static void stopFakes() {
        LLM.close();
        RAG.close();
    }

    @BeforeEach
    void adviseOnceAndReset() throws Exception {
        if (!advised) {
            AdviceWith.adviceWith(camelContext, "intake-small", a -> a.replaceFromWith("direct:intake-small"));
            AdviceWith.adviceWith(camelContext, "publish-output",
                    a -> a.weaveById("publish-output-to-broker").replace().to("mock:task-output-created"));
            AdviceWith.adviceWith(camelContext, "publish-failure",
                    a -> a.weaveById("publish-failure-to-broker").replace().to("mock:task-failed"));
            AdviceWith.adviceWith(camelContext, "keep-original",
                    a -> a.weaveById("keep-original-to-broker").replace().to("mock:dead-letter-queue"));
            AdviceWith.adviceWith(camelContext, "process-task", a -> a.mockEndpoints("velocity:*", "langchain4j-chat:*"));
            // a transient failure before the model client is reached, for tasks that ask for it
            AdviceWith.adviceWith(camelContext, "llm-tiny", a -> a.weaveByToUri("langchain4j-chat:*").before()
                    .process(exchange -> {
                        if (String.valueOf(exchange.getVariable("taskId")).startsWith(FAIL_BEFORE_MODEL)) {
                            failuresBeforeModel.incrementAndGet();
                            throw new java.io.IOException("connection pool closed before the request was sent");
                        }
                    }));
            camelContext.start();
            advised = true;
        }
        MockEndpoint.resetMocks(camelContext);
        LLM.reset();
        RAG.reset();
    }

    // --- routing by domain ---

    @ParameterizedTest
    @ValueSource(strings = {"code-general", "code-vision", "code-embedded", "documentation", "ui-design"})
    void rendersTheDomainsOwnTemplateAndSendsItToTheDomainsTier(String domain) throws Exception {
        String taskId = "route-" + domain;
        String description = "Build the " + domain + " thing";

        JsonNode document = completed(execute(task(taskId, description, domain, null), Map.of()));

        for (String other : DOMAINS) {
            assertThat(velocityCalls(other)).as("template of %s", other).isEqualTo(other.equals(domain) ? 1 : 0);
        }
        String defaultTier = Map.of("code-general", "small", "code-vision", "large", "code-embedded", "small",
                "documentation", "small", "ui-design", "large").get(domain);
        LlmCall call = onlyLlmCall();
        assertThat(call.model()).isEqualTo(defaultTier + "-model");
        assertThat(call.provider()).isEqualTo(defaultTier.equals("large") ? FakeLlmServer.OPENAI : FakeLlmServer.OLLAMA);
        assertThat(call.prompt())
                .startsWith(Map.of("code-general", "You are a senior software engineer.",
                        "code-vision", "You are a senior computer-vision engineer.",
                        "code-embedded", "You are a senior embedded firmware engineer.",
                        "documentation", "You are a senior technical writer.",
                        "ui-design", "You are a senior front-end engineer and UI designer.").get(domain))
                .contains("## Task (" + taskId + ")\n" + description + "\n")
                .contains("Guidelines: " + guidelines(domain))
                .contains("```" + language(domain) + " path/to/file")
                .doesNotContain("$body").doesNotContain("#if").doesNotContain("Prompt template for");
        assertThat(document.path("domain").asText()).isEqualTo(domain);
        assertThat(document.path("tier").asText()).isEqualTo(defaultTier);
    }

    @Test
    void sendsAQueuedTaskToTheQueuesTierWhateverTheBodySays() throws Exception {
        deliver(task("route-queue-tier", "Write fib", "code-vision", "frontier"), Map.of());

        assertThat(onlyLlmCall().model()).isEqualTo("small-model");
        JsonNode published = MAPPER.readTree(publishedOutput());
        assertThat(published.path("tier").asText()).isEqualTo("small");
        assertThat(published.path("domain").asText()).isEqualTo("code-vision");
        assertThat(velocityMock("code-vision").getReceivedCounter()).isEqualTo(1);
    }

    @Test
    void sendsAFrontierTaskToAnthropicWithTheConfiguredKey() throws Exception {
        completed(execute(task("route-frontier", "Design an API", "documentation", "frontier"), Map.of()));

        LlmCall call = onlyLlmCall();
        assertThat(call.provider()).isEqualTo(FakeLlmServer.ANTHROPIC);
        assertThat(call.model()).isEqualTo("frontier-model");
        assertThat(call.header("x-api-key")).isEqualTo("sk-ant-route-test");
    }

    // --- bad input ---

    static Stream<Arguments> badTasks() {
        return Stream.of(
                Arguments.of("not JSON", "this is {not json", "not valid JSON"),
                Arguments.of("missing task_id", "{\"description\":\"Write fib\",\"domain\":\"code-general\"}", "task_id"),
                Arguments.of("missing description", "{\"task_id\":\"route-bad-1\",\"domain\":\"code-general\"}",
                        "description"),
                Arguments.of("unknown domain", "{\"task_id\":\"route-bad-2\",\"description\":\"Write fib\",\"domain\":\"cooking\"}",
                        "domain"),
                Arguments.of("unknown tier", "{\"task_id\":\"route-bad-3\",\"description\":\"Write fib\","
                        + "\"domain\":\"code-general\",\"tier\":\"huge\"}", "tier"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badTasks")
    void answersABadRestTaskWith400AndNeverCallsTheLlm(String name, String body, String detail) throws Exception {
        Exchange response = execute(body, Map.of());

        assertThat(status(response)).isEqualTo(400);
        JsonNode error = MAPPER.readTree(body(response));
        assertThat(error.path("error").asText()).isEqualTo("invalid_task");
        assertThat(error.path("detail").asText()).contains(detail);
        assertThat(response.getMessage().getHeader(Exchange.CONTENT_TYPE)).isEqualTo("application/json");
        assertThat(LLM.calls()).isEmpty();
        assertThat(RAG.requestCount()).isZero();
        assertThat(mock("mock:task-failed").getReceivedCounter()).as("no task.failed for a REST 400").isZero();
        assertThat(mock("mock:task-output-created").getReceivedCounter()).isZero();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badTasks")
    void deadLettersABadQueuedTaskWithAReadableReason(String name, String body, String reason) throws Exception {
        MockEndpoint failed = mock("mock:task-failed");
        MockEndpoint deadLetters = mock("mock:dead-letter-queue");
        failed.expectedMessageCount(1);
        deadLetters.expectedMessageCount(1);
        deadLetters.expectedBodiesReceived(body);

        Exchange delivered = deliver(body, Map.of());

        failed.assertIsSatisfied(5000);
        deadLetters.assertIsSatisfied(5000);
        assertThat(delivered.getException()).isNull();
        JsonNode event = MAPPER.readTree(failed.getReceivedExchanges().get(0).getMessage().getBody(String.class));
        assertThat(event.path("error").asText()).isEqualTo("invalid_task");
        assertThat(event.path("reason").asText()).contains(reason);
        assertThat(event.path("tier").asText()).isEqualTo("small");
        assertThat(event.path("attempts").asInt()).isZero();
        JsonNode original = lenientJson(body);
        if (original != null && original.path("task_id").isTextual()) {
            assertThat(event.path("task_id").asText()).isEqualTo(original.path("task_id").asText());
        }
        Map<String, Object> kept = deadLetters.getReceivedExchanges().get(0).getMessage().getHeaders();
        assertThat(kept).containsEntry("x-failure-error", "invalid_task")
                .containsEntry("x-original-tier", "small")
                .containsEntry("CamelSpringRabbitmqRoutingOverrideKey", "task.ready.small");
        assertThat((String) kept.get("x-failure-reason")).contains(reason);
        assertThat(LLM.calls()).isEmpty();
        assertThat(RAG.requestCount()).isZero();
        assertThat(mock("mock:task-output-created").getReceivedCounter()).isZero();
    }

    // --- RAG ---

    @ParameterizedTest
    @ValueSource(ints = {500, 503, 404})
    void completesTheTaskWithoutContextWhenRagAnswersAnError(int status) throws Exception {
        RAG.respondWith(request -> RagReply.error(status));
        long failedBefore = ragContextFailures();

        JsonNode document = completed(execute(task("route-rag-" + status, "Write fib", "code-general", null), Map.of()));

        assertThat(document.path("rag").asText()).isEqualTo("unavailable");
        // a RAG outage is handled by design: Hawtio's counters show no failed exchange for it
        assertThat(ragContextFailures()).isEqualTo(failedBefore);
        assertThat(RAG.requestCount()).isEqualTo(1);
        assertThat(onlyLlmCall().prompt()).doesNotContain("Retrieved project context");
    }

    @Test
    void completesTheTaskWithoutContextWhenRagIsSlowerThanItsTimeout() throws Exception {
        RAG.respondWith(request -> RagReply.context("late context", List.of()).delayed(Duration.ofSeconds(4)));
        long start = System.nanoTime();

        JsonNode document = completed(execute(task("route-rag-slow", "Write fib", "code-general", null), Map.of()));

        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the RAG wait was cut by worker.rag.timeout")
                .isLessThan(Duration.ofMillis(3000));
        assertThat(document.path("rag").asText()).isEqualTo("unavailable");
        assertThat(onlyLlmCall().prompt()).doesNotContain("late context");
    }

    @Test
    void completesAQueuedTaskWithoutContextWhenRagFails() throws Exception {
        RAG.respondWith(request -> RagReply.error(503));

        deliver(task("route-rag-queue", "Write fib", "code-general", null), Map.of());

        assertThat(MAPPER.readTree(publishedOutput()).path("rag").asText()).isEqualTo("unavailable");
        assertThat(mock("mock:task-failed").getReceivedCounter()).isZero();
    }

    @Test
    void marksABlankContextEmpty() throws Exception {
        RAG.respondWith(request -> RagReply.empty());

        JsonNode document = completed(execute(task("route-rag-empty", "Write fib", "code-general", null), Map.of()));

        assertThat(document.path("rag").asText()).isEqualTo("empty");
        assertThat(onlyLlmCall().prompt()).doesNotContain("Retrieved project context");
    }

    @Test
    void putsTheRetrievedContextIntoThePrompt() throws Exception {
        RAG.respondWith(request -> RagReply.context("## Project notes\n- fib lives in src/mathx/fib.py",
                List.of("doc://notes/1")));
        ObjectNode task = (ObjectNode) MAPPER.readTree(task("route-rag-used", "Write fib", "code-embedded", null));
        task.put("project_id", "proj-42");

        JsonNode document = completed(execute(task.toString(), Map.of()));

        assertThat(document.path("rag").asText()).isEqualTo("used");
        assertThat(onlyLlmCall().prompt())
                .contains("## Retrieved project context\n## Project notes\n- fib lives in src/mathx/fib.py");
        JsonNode request = RAG.requests().get(0);
        assertThat(request.path("task_id").asText()).isEqualTo("route-rag-used");
        assertThat(request.path("query").asText()).isEqualTo("Write fib");
        assertThat(request.path("domain").asText()).isEqualTo("code-embedded");
        assertThat(request.path("project_id").asText()).isEqualTo("proj-42");
        assertThat(request.path("top_k").asInt()).isEqualTo(5);
    }

    // --- templates ---

    @Test
    void printsVelocitySyntaxInTaskDataLiterally() throws Exception {
        String injection = "#set($x = 'pwned')$x ${camelContext} $body.description #foreach($i in [1..3])$i#end";
        String ragInjection = "#set($y = 'rag-pwned')$y $exchange.getContext()";
        RAG.respondWith(request -> RagReply.context(ragInjection, List.of()));
        ObjectNode task = (ObjectNode) MAPPER.readTree(task("route-velocity", injection, "code-general", null));
        task.put("context", "#set($z = 'ctx-pwned')$z");

        completed(execute(task.toString(), Map.of()));

        String prompt = onlyLlmCall().prompt();
        assertThat(prompt).contains("\n" + injection + "\n")
                .contains("\n" + ragInjection + "\n")
                .contains("\n#set($z = 'ctx-pwned')$z\n")
                .doesNotContain("SpringCamelContext").doesNotContain("DefaultCamelContext");
        assertThat(prompt.replace(injection, "").replace(ragInjection, "").replace("#set($z = 'ctx-pwned')$z", ""))
                .doesNotContain("pwned");
    }

    // --- headers ---

    @Test
    void stripsBrokerAndLlmControlHeadersFromAQueuedTask() throws Exception {
        deliver(task("route-headers-queue", "Write fib", "code-general", null), injectedHeaders());

        Exchange published = mock("mock:task-output-created").getReceivedExchanges().get(0);
        assertThat(published.getFromRouteId()).isEqualTo("intake-small");
        assertThat(MAPPER.readTree(published.getMessage().getBody(String.class)).path("task_id").asText())
                .isEqualTo("route-headers-queue");
        assertNoInjectedHeaders(published.getMessage().getHeaders());
        assertThat(published.getMessage().getHeaders()).containsEntry("CamelSpringRabbitmqMessageId", "route-headers-queue");
        assertThat(mock("mock:task-failed").getReceivedCounter()).isZero();
        assertNoInjectedHeadersReachedTheLlm("small");
    }

    @Test
    void stripsBrokerAndLlmControlHeadersFromARestTask() throws Exception {
        Exchange response = execute(task("route-headers-rest", "Write fib", "ui-design", null), injectedHeaders());

        completed(response);
        assertNoInjectedHeaders(response.getMessage().getHeaders());
        Exchange published = mock("mock:task-output-created").getReceivedExchanges().get(0);
        assertNoInjectedHeaders(published.getMessage().getHeaders());
        assertNoInjectedHeadersReachedTheLlm("large");
    }

    @Test
    void stripsBrokerControlHeadersFromTheDeadLetterOfABadQueuedTask() throws Exception {
        MockEndpoint failed = mock("mock:task-failed");
        MockEndpoint deadLetters = mock("mock:dead-letter-queue");
        failed.expectedMessageCount(1);
        deadLetters.expectedMessageCount(1);

        deliver("{\"task_id\":\"route-headers-bad\",\"domain\":\"code-general\"}", injectedHeaders());

        failed.assertIsSatisfied(5000);
        deadLetters.assertIsSatisfied(5000);
        assertNoInjectedHeaders(failed.getReceivedExchanges().get(0).getMessage().getHeaders());
        Map<String, Object> kept = deadLetters.getReceivedExchanges().get(0).getMessage().getHeaders();
        assertThat(kept).doesNotContainKey("CamelSpringRabbitmqExchangeOverrideName")
                .containsEntry("CamelSpringRabbitmqRoutingOverrideKey", "task.ready.small");
        assertThat(kept.keySet()).filteredOn(name -> name.toLowerCase().contains("augmenteddata")).isEmpty();
    }

    // --- output ---

    @Test
    void publishesAnOutputDocumentThatMatchesTheSchema() throws Exception {
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).withUsage(111, 222));

        Exchange response = execute(task("route-output", "Write hello", "code-general", null), Map.of());

        String published = publishedOutput();
        assertThat(body(response)).isEqualTo(published);
        JsonNode document = MAPPER.readTree(published);
        assertThat(OUTPUT_SCHEMA.validate(document)).isEmpty();
        assertThat(document.path("task_id").asText()).isEqualTo("route-output");
        assertThat(document.path("artifact_id").asText()).matches("^art-[0-9a-f-]{36}$");
        assertThat(document.path("status").asText()).isEqualTo("completed");
        assertThat(document.path("model").asText()).isEqualTo("small-model");
        assertThat(document.path("tokens_used").asInt()).isEqualTo(333);
        assertThat(document.path("rag").asText()).isEqualTo("used");
        assertThat(document.path("output").path("content").asText()).isEqualTo(FakeLlmServer.DEFAULT_TEXT);
        JsonNode artifacts = document.path("output").path("artifacts");
        assertThat(artifacts).hasSize(1);
        assertThat(artifacts.get(0).path("type").asText()).isEqualTo("code");
        assertThat(artifacts.get(0).path("language").asText()).isEqualTo("python");
        assertThat(artifacts.get(0).path("path").asText()).isEqualTo("artifact-1.py");
        assertThat(artifacts.get(0).path("content").asText()).isEqualTo("print('hello')\n");
        Map<String, Object> headers = mock("mock:task-output-created").getReceivedExchanges().get(0).getMessage().getHeaders();
        assertThat(headers).containsEntry("CamelSpringRabbitmqMessageId", "route-output")
                .containsEntry("CamelSpringRabbitmqContentType", "application/json");
        assertThat(String.valueOf(headers.get("CamelSpringRabbitmqDeliveryMode"))).isEqualTo("PERSISTENT");
    }

    @Test
    void keepsEveryConcurrentTasksTokenUsageApart() throws Exception {
        LLM.respondWith(call -> {
            Matcher n = N.matcher(call.prompt());
            int value = n.find() ? Integer.parseInt(n.group(1)) : 0;
            return Reply.text("Answer for n=" + value).withUsage(value, 1000 + value)
                    .delayed(Duration.ofMillis(ThreadLocalRandom.current().nextInt(5, 40)));
        });
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<Exchange>> responses = new ArrayList<>();
            for (int n = 1; n <= 48; n++) {
                String tier = List.of("tiny", "small", "large", "coding").get(n % 4);
                String body = task("route-conc-" + n, "Compute n=" + n, "code-general", tier);
                responses.add(pool.submit(() -> execute(body, Map.of())));
            }
            for (int n = 1; n <= 48; n++) {
                JsonNode document = completed(responses.get(n - 1).get(60, TimeUnit.SECONDS));
                assertThat(document.path("task_id").asText()).isEqualTo("route-conc-" + n);
                assertThat(document.path("tokens_used").asInt()).as("tokens of task %s", n).isEqualTo(1000 + 2 * n);
                assertThat(document.path("output").path("content").asText()).isEqualTo("Answer for n=" + n);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(LLM.maxInFlight("tiny-model")).as("tiny calls overlapped").isGreaterThan(1);
    }

    // --- LLM failures ---

    @Test
    void retriesATransientLlmFailureUpToTheTiersMaxAttemptsThenAnswers502() throws Exception {
        LLM.respondWith(call -> Reply.error(500, "model crashed"));
        var llmRoute = camelContext.getCamelContextExtension().getContextPlugin(ManagedCamelContext.class)
                .getManagedRoute("llm-tiny");
        long failedBefore = llmRoute.getExchangesFailed();
        long completedBefore = llmRoute.getExchangesCompleted();

        Exchange response = execute(task("route-llm-500", "Write fib", "code-general", "tiny"), Map.of());

        assertThat(status(response)).isEqualTo(502);
        JsonNode error = MAPPER.readTree(body(response));
        assertThat(error.path("error").asText()).isEqualTo("llm_failed");
        assertThat(error.path("detail").asText()).contains("tiny-model").contains("3 attempt(s)");
        assertThat(error.path("task_id").asText()).isEqualTo("route-llm-500");
        assertThat(LLM.requestCount("tiny-model")).isEqualTo(3);
        JsonNode event = MAPPER.readTree(mock("mock:task-failed").getReceivedExchanges().get(0).getMessage().getBody(String.class));
        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("attempts").asInt()).isEqualTo(3);
        assertThat(event.path("tier").asText()).isEqualTo("tiny");
        // what an operator sees on the llm-tiny route in Hawtio: a failed call, not a completed one
        assertThat(llmRoute.getExchangesFailed() - failedBefore).as("llm-tiny failed exchanges").isEqualTo(1);
        assertThat(llmRoute.getExchangesCompleted() - completedBefore).as("llm-tiny completed exchanges").isZero();
    }

    @Test
    void capsRetriesOfAFailureBeforeTheModelClientIsReached() throws Exception {
        failuresBeforeModel.set(0);

        Exchange response = execute(task(FAIL_BEFORE_MODEL, "Write fib", "code-general", "tiny"), Map.of());

        assertThat(status(response)).isEqualTo(502);
        // three attempts (tiny's max-attempts), not endless: the model client never counted one of them
        assertThat(failuresBeforeModel.get()).as("attempts, counted by Camel's redelivery counter").isEqualTo(3);
        assertThat(MAPPER.readTree(body(response)).path("error").asText()).isEqualTo("llm_failed");
    }

    @Test
    void waitsForTheRetryAfterOfA429InsteadOfTheBackoff() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        LLM.respondWith(call -> calls.incrementAndGet() == 1
                ? Reply.error(429, "rate limited").withRetryAfter("2") : Reply.text(FakeLlmServer.DEFAULT_TEXT));
        long start = System.nanoTime();

        completed(execute(task("route-retry-after", "Write fib", "code-general", "tiny"), Map.of()));

        long waitedMs = java.time.Duration.ofNanos(System.nanoTime() - start).toMillis();
        assertThat(LLM.requestCount("tiny-model")).isEqualTo(2);
        // the configured backoff here is 10 ms; the server asked for 2 s
        assertThat(waitedMs).isGreaterThanOrEqualTo(1900);
    }

    @Test
    void succeedsWhenARetryOfTheLlmCallSucceeds() throws Exception {
        java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
        LLM.respondWith(call -> calls.incrementAndGet() == 1 ? Reply.error(503, "loading")
                : Reply.text(FakeLlmServer.DEFAULT_TEXT).withUsage(10, 20));

        JsonNode document = completed(execute(task("route-llm-retry", "Write fib", "code-general", "tiny"), Map.of()));

        assertThat(document.path("tokens_used").asInt()).isEqualTo(30);
        assertThat(LLM.requestCount("tiny-model")).isEqualTo(2);
    }

    @Test
    void deadLettersAQueuedTaskWhoseLlmRejectsTheRequestAfterOneAttempt() throws Exception {
        MockEndpoint failed = mock("mock:task-failed");
        MockEndpoint deadLetters = mock("mock:dead-letter-queue");
        failed.expectedMessageCount(1);
        deadLetters.expectedMessageCount(1);
        LLM.respondWith(call -> Reply.error(400, "prompt too long"));
        String body = task("route-llm-400", "Write fib", "code-general", null);

        deliver(body, Map.of());

        failed.assertIsSatisfied(5000);
        deadLetters.assertIsSatisfied(5000);
        JsonNode event = MAPPER.readTree(failed.getReceivedExchanges().get(0).getMessage().getBody(String.class));
        assertThat(event.path("task_id").asText()).isEqualTo("route-llm-400");
        assertThat(event.path("error").asText()).isEqualTo("llm_failed");
        assertThat(event.path("attempts").asInt()).isEqualTo(1);
        assertThat(event.path("reason").asText()).contains("small-model").contains("prompt too long");
        assertThat(deadLetters.getReceivedExchanges().get(0).getMessage().getBody(String.class)).isEqualTo(body);
        assertThat(LLM.requestCount("small-model")).isEqualTo(1);
        assertThat(mock("mock:task-output-created").getReceivedCounter()).isZero();
    }

    @Test
    void answers504WhenTheLlmTimesOutOnEveryAttempt() throws Exception {
        LLM.respondWith(call -> Reply.text("late").delayed(Duration.ofSeconds(3)));

        Exchange response = execute(task("route-llm-timeout", "Write fib", "code-general", "coding"), Map.of());

        assertThat(status(response)).isEqualTo(504);
        JsonNode error = MAPPER.readTree(body(response));
        assertThat(error.path("error").asText()).isEqualTo("llm_timeout");
        assertThat(error.path("detail").asText()).contains("700ms").contains("2 attempt(s)");
        assertThat(LLM.requestCount("coding-model")).isEqualTo(2);
    }

    @Test
    void answers502InvalidOutputWhenTheModelAnswersNothingButWhitespace() throws Exception {
        LLM.respondWith(call -> Reply.text(" \n\t "));

        Exchange response = execute(task("route-blank-output", "Write fib", "code-general", null), Map.of());

        assertThat(status(response)).isEqualTo(502);
        JsonNode error = MAPPER.readTree(body(response));
        assertThat(error.path("error").asText()).isEqualTo("invalid_output");
        assertThat(error.path("task_id").asText()).isEqualTo("route-blank-output");
        assertThat(mock("mock:task-output-created").getReceivedCounter()).isZero();
        JsonNode event = MAPPER.readTree(mock("mock:task-failed").getReceivedExchanges().get(0).getMessage().getBody(String.class));
        assertThat(event.path("error").asText()).isEqualTo("invalid_output");
        assertThat(event.path("attempts").asInt()).isEqualTo(1);
    }

    // --- REST over HTTP ---

    @Test
    void answersOverHttpWithoutEchoingRequestHeaders() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/execute"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("CamelSpringRabbitmqExchangeOverrideName", "evil.exchange")
                .header("X-Trace", "abc")
                .POST(HttpRequest.BodyPublishers.ofString(task("route-http", "Write fib", "code-general", null)))
                .build();

        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(OUTPUT_SCHEMA.validate(MAPPER.readTree(response.body()))).isEmpty();
        assertThat(response.headers().map().keySet()).noneMatch(name -> name.toLowerCase().startsWith("camel"))
                .noneMatch(name -> name.equalsIgnoreCase("X-Trace"));
        assertNoInjectedHeaders(mock("mock:task-output-created").getReceivedExchanges().get(0).getMessage().getHeaders());

        HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/execute"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"task_id\":\"route-http-bad\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(MAPPER.readTree(bad.body()).path("error").asText()).isEqualTo("invalid_task");
    }

    @Test
    void answersOverHttpWithAJsonErrorWhenTheLlmFails() throws Exception {
        LLM.respondWith(call -> Reply.error(500, "model crashed"));
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/execute"))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(task("route-http-llm-500", "Write fib", "code-general", "tiny")))
                .build();

        HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(502);
        JsonNode error = MAPPER.readTree(response.body());
        assertThat(error.path("error").asText()).isEqualTo("llm_failed");
        assertThat(error.path("task_id").asText()).isEqualTo("route-http-llm-500");
    }

    // --- helpers ---

    private Exchange execute(String body, Map<String, Object> headers) {
        return template.request("direct:execute-request", exchange -> {
            headers.forEach(exchange.getIn()::setHeader);
            exchange.getIn().setBody(body);
        });
    }

    private Exchange deliver(String body, Map<String, Object> headers) {
        return template.send("direct:intake-small", exchange -> {
            headers.forEach(exchange.getIn()::setHeader);
            exchange.getIn().setBody(body);
        });
    }

    private JsonNode completed(Exchange response) throws Exception {
        assertThat(status(response)).as("response %s", body(response)).isIn(200, null);
        JsonNode document = MAPPER.readTree(body(response));
        assertThat(OUTPUT_SCHEMA.validate(document)).isEmpty();
        assertThat(document.path("status").asText()).isEqualTo("completed");
        return document;
    }

    private String publishedOutput() {
        MockEndpoint published = mock("mock:task-output-created");
        await().atMost(Duration.ofSeconds(5)).until(() -> published.getReceivedCounter() > 0);
        assertThat(published.getReceivedExchanges()).hasSize(1);
        return published.getReceivedExchanges().get(0).getMessage().getBody(String.class);
    }

    private static Integer status(Exchange response) {
        assertThat(response.getException()).isNull();
        return response.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
    }

    private static String body(Exchange response) {
        return response.getMessage().getBody(String.class);
    }

    private LlmCall onlyLlmCall() {
        List<LlmCall> calls = LLM.calls();
        assertThat(calls).hasSize(1);
        return calls.get(0);
    }

    private MockEndpoint mock(String uri) {
        return camelContext.getEndpoint(uri, MockEndpoint.class);
    }

    /** The rag-context route's failed-exchange counter, as Hawtio reads it over JMX. */
    private long ragContextFailures() throws Exception {
        javax.management.MBeanServer jmx = java.lang.management.ManagementFactory.getPlatformMBeanServer();
        var names = jmx.queryNames(new javax.management.ObjectName(
                "org.apache.camel:type=routes,name=\"rag-context\",*"), null);
        assertThat(names).hasSize(1);
        return (Long) jmx.getAttribute(names.iterator().next(), "ExchangesFailed");
    }

    /** Renders of a domain's template; the toD's endpoint (and so its mock) exists once a task used it. */
    private int velocityCalls(String domain) {
        return camelContext.getEndpoints().stream()
                .filter(endpoint -> endpoint instanceof MockEndpoint && endpoint.getEndpointUri().contains("velocity")
                        && endpoint.getEndpointUri().endsWith("templates/" + domain + ".vm"))
                .mapToInt(endpoint -> ((MockEndpoint) endpoint).getReceivedCounter())
                .sum();
    }

    private MockEndpoint velocityMock(String domain) {
        return mockFor("velocity", "templates/" + domain + ".vm");
    }

    private MockEndpoint mockFor(String scheme, String suffix) {
        List<MockEndpoint> mocks = new ArrayList<>();
        for (Endpoint endpoint : camelContext.getEndpoints()) {
            if (endpoint instanceof MockEndpoint mock && endpoint.getEndpointUri().contains(scheme)
                    && endpoint.getEndpointUri().endsWith(suffix)) {
                mocks.add(mock);
            }
        }
        assertThat(mocks).as("mock of %s ...%s", scheme, suffix).hasSize(1);
        return mocks.get(0);
    }

    private Map<String, Object> injectedHeaders() {
        Map<String, Object> headers = new LinkedHashMap<>();
        headers.put("CamelSpringRabbitmqExchangeOverrideName", "evil.exchange");
        headers.put("camelspringrabbitmqroutingoverridekey", "evil.key");
        headers.put("CAMELLANGCHAIN4JCHATAUGMENTEDDATA", List.of(Content.from(INJECTED_AUGMENTED_DATA)));
        return headers;
    }

    private static void assertNoInjectedHeaders(Map<String, Object> headers) {
        for (String injected : INJECTED_HEADERS) {
            assertThat(headers.keySet()).as("headers %s", headers.keySet())
                    .noneMatch(name -> name.equalsIgnoreCase(injected));
        }
        assertThat(headers.values()).noneMatch(value -> String.valueOf(value).contains("evil."))
                .noneMatch(value -> String.valueOf(value).contains(INJECTED_AUGMENTED_DATA));
    }

    private void assertNoInjectedHeadersReachedTheLlm(String tier) {
        MockEndpoint chat = mockFor("langchain4j-chat", tier);
        assertThat(chat.getReceivedExchanges()).hasSize(1);
        assertNoInjectedHeaders(chat.getReceivedExchanges().get(0).getMessage().getHeaders());
        assertThat(onlyLlmCall().prompt()).doesNotContain(INJECTED_AUGMENTED_DATA);
    }

    private static String task(String taskId, String description, String domain, String tier) {
        ObjectNode task = MAPPER.createObjectNode();
        task.put("task_id", taskId);
        task.put("description", description);
        task.put("domain", domain);
        if (tier != null) {
            task.put("tier", tier);
        }
        return task.toString();
    }

    private static String guidelines(String domain) {
        return Map.of("code-general", "Write idiomatic, tested, production-quality code.",
                "code-vision", "Computer-vision code; state the libraries used (OpenCV, NumPy, PyTorch) and image/tensor shapes.",
                "code-embedded", "Embedded C for constrained targets; no dynamic allocation, explicit integer widths, ISR-safe code.",
                "documentation", "Clear technical documentation in Markdown with examples.",
                "ui-design", "Accessible, responsive UI components (React + TypeScript) with semantic HTML.").get(domain);
    }

    private static String language(String domain) {
        return Map.of("code-general", "python", "code-vision", "python", "code-embedded", "c",
                "documentation", "markdown", "ui-design", "tsx").get(domain);
    }

    private static JsonNode lenientJson(String body) {
        try {
            return MAPPER.readTree(body);
        } catch (Exception e) {
            return null;
        }
    }

    private static JsonSchema outputSchema() {
        try (InputStream schema = TaskPipelineRouteTest.class.getResourceAsStream("/schema/task-output.schema.json")) {
            return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
