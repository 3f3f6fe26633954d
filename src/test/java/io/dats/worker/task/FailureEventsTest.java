package io.dats.worker.task;

import java.net.ConnectException;
import java.net.http.HttpTimeoutException;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.langchain4j.exception.InternalServerException;
import dev.langchain4j.exception.TimeoutException;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.llm.LlmCallException;
import io.dats.worker.llm.LlmCallTracker;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.component.jsonvalidator.JsonValidationException;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.amqp.AmqpTimeoutException;

import static org.assertj.core.api.Assertions.assertThat;

class FailureEventsTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String REQUEST_SCHEMA = "json-validator:schema/task-request.schema.json";
    private static final String OUTPUT_SCHEMA = "json-validator:schema/task-output.schema.json";

    private static CamelContext camelContext;
    private static ProducerTemplate template;

    private final FailureEvents failureEvents = new FailureEvents(MAPPER, TestWorkerProperties.defaults());

    @BeforeAll
    static void startCamel() {
        camelContext = new DefaultCamelContext();
        camelContext.start();
        template = camelContext.createProducerTemplate();
    }

    @AfterAll
    static void stopCamel() {
        camelContext.stop();
    }

    @Test
    void classifiesASchemaViolationAsInvalidTaskWithTheSchemaMessages() {
        Exchange exchange = validated("{\"task_id\":\"t-1\",\"domain\":\"Cooking!\"}");
        assertThat(exchange.getException()).isInstanceOf(JsonValidationException.class);

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.INVALID_TASK);
        assertThat(failure.httpStatus()).isEqualTo(400);
        assertThat(failure.isInvalidTask()).isTrue();
        assertThat(failure.reason()).startsWith("the task does not match the task schema: ")
                .contains("description").contains("domain");
    }

    @Test
    void classifiesABodyThatIsNotJsonAsInvalidTask() {
        Exchange exchange = validated("this is {not json");

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.INVALID_TASK);
        assertThat(failure.httpStatus()).isEqualTo(400);
        assertThat(failure.reason()).startsWith("the body is not valid JSON");
    }

    @Test
    void classifiesAConfigurationRefusalAsInvalidTask() {
        Exchange exchange = exchange("{}");
        exchange.setProperty(Exchange.EXCEPTION_CAUGHT,
                new TaskValidationException("unknown domain 'cooking', expected one of [code-general]"));

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure).isEqualTo(new Failure(Failure.INVALID_TASK,
                "unknown domain 'cooking', expected one of [code-general]", 400));
    }

    @Test
    void classifiesAnLlmTimeoutAs504WithTheTierAndAttempts() {
        Exchange exchange = caught(new LlmCallException("large", 3, new TimeoutException("request timed out")));

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.LLM_TIMEOUT);
        assertThat(failure.httpStatus()).isEqualTo(504);
        assertThat(failure.reason()).contains("openai model 'openai/gpt-oss-20b' at http://localhost:8000/v1")
                .contains("did not answer within 300s").contains("tier large").contains("3 attempt(s)");
    }

    @Test
    void recognisesAWrappedHttpTimeoutAsAnLlmTimeout() {
        Exchange exchange = caught(new LlmCallException("small", 1,
                new RuntimeException("call failed", new HttpTimeoutException("timed out"))));

        assertThat(failureEvents.classify(exchange).error()).isEqualTo(Failure.LLM_TIMEOUT);
    }

    @Test
    void classifiesAnotherLlmFailureAs502WithTheAttempts() {
        Exchange exchange = caught(new LlmCallException("small", 3, new InternalServerException("upstream exploded")));

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.LLM_FAILED);
        assertThat(failure.httpStatus()).isEqualTo(502);
        assertThat(failure.reason()).contains("ollama model 'gemma3:12b' at http://localhost:11434")
                .contains("failed after 3 attempt(s)").contains("InternalServerException: upstream exploded");
    }

    @Test
    void namesTheRootCauseOfAWrappedLlmFailure() {
        Exchange exchange = caught(new LlmCallException("coding", 3,
                new RuntimeException("call failed", new ConnectException("Connection refused"))));

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.LLM_FAILED);
        assertThat(failure.reason()).contains("(caused by ConnectException: Connection refused)");
    }

    @Test
    void namesTheSettingThatPointsAtAnUnreachableModelServer() {
        // what the JDK client of LangChain4j throws when nothing listens at the tier's base URL
        ConnectException refused = new ConnectException();
        refused.initCause(new java.nio.channels.ClosedChannelException());
        Exchange exchange = caught(new LlmCallException("small", 3, new RuntimeException(refused)));

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.LLM_FAILED);
        assertThat(failure.reason()).startsWith("the ollama model 'gemma3:12b' at http://localhost:11434 failed after 3 "
                        + "attempt(s): cannot connect: ")
                .endsWith("; check that the model server is running, or point worker.tiers.small.base-url "
                        + "(environment variable WORKER_TIERS_SMALL_BASE_URL) at one");
    }

    @Test
    void namesNoSettingWhenTheModelServerAnsweredWithAnError() {
        Exchange exchange = caught(new LlmCallException("small", 3, new InternalServerException("upstream exploded")));

        assertThat(failureEvents.classify(exchange).reason()).doesNotContain("WORKER_TIERS_SMALL_BASE_URL");
    }

    @Test
    void classifiesAnOutputSchemaViolationAs502InvalidOutput() {
        Exchange exchange = exchange("{\"task_id\":\"t-3\",\"status\":\"completed\"}");
        template.send(OUTPUT_SCHEMA, exchange);
        assertThat(exchange.getException()).isInstanceOf(JsonValidationException.class);

        Failure failure = failureEvents.classify(exchange);

        assertThat(failure.error()).isEqualTo(Failure.INVALID_OUTPUT);
        assertThat(failure.httpStatus()).isEqualTo(502);
        assertThat(failure.reason()).contains("output schema").contains("artifact_id");
    }

    @Test
    void classifiesByTheExceptionWhateverItIsWrappedIn() {
        Exchange request = validated("{\"task_id\":\"t-4\"}");
        Exchange wrapped = caught(new RuntimeException("step failed", request.getException()));

        assertThat(failureEvents.classify(wrapped).error()).isEqualTo(Failure.INVALID_TASK);
        assertThat(failureEvents.classify(caught(new RuntimeException("outer",
                new LlmCallException("tiny", 2, new InternalServerException("x"))))).error()).isEqualTo(Failure.LLM_FAILED);
    }

    @Test
    void classifiesABrokerFailureAs503PublishFailed() {
        Failure failure = failureEvents.classify(caught(
                new RuntimeException("publish failed", new AmqpTimeoutException("broker did not confirm"))));

        assertThat(failure.error()).isEqualTo(Failure.PUBLISH_FAILED);
        assertThat(failure.httpStatus()).isEqualTo(503);
        assertThat(failure.reason()).contains("could not be published").contains("broker did not confirm");
    }

    @Test
    void classifiesAnythingElseAsInternalError() {
        Failure failure = failureEvents.classify(caught(new IllegalStateException("template missing")));

        assertThat(failure.error()).isEqualTo(Failure.INTERNAL_ERROR);
        assertThat(failure.httpStatus()).isEqualTo(500);
        assertThat(failure.reason()).startsWith("the task failed: ").contains("template missing");
    }

    @Test
    void buildsTheFailedEventFromTheVariables() throws Exception {
        Exchange exchange = caught(new LlmCallException("large", 3, new InternalServerException("boom")));
        exchange.getMessage().setBody("{\"task_id\":\"other\",\"domain\":\"documentation\",\"tier\":\"tiny\"}");
        exchange.setVariable(TaskVariables.TASK_ID, "t-7");
        exchange.setVariable(TaskVariables.DOMAIN, "code-vision");
        exchange.setVariable(TaskVariables.TIER, "large");
        exchange.setVariable(LlmCallTracker.ATTEMPTS, 3);

        JsonNode event = MAPPER.readTree(failureEvents.event(exchange));

        assertThat(fieldNames(event)).containsExactly("task_id", "error", "reason", "domain", "tier", "attempts");
        assertThat(event.path("task_id").asText()).isEqualTo("t-7");
        assertThat(event.path("error").asText()).isEqualTo(Failure.LLM_FAILED);
        assertThat(event.path("reason").asText()).contains("failed after 3 attempt(s)");
        assertThat(event.path("domain").asText()).isEqualTo("code-vision");
        assertThat(event.path("tier").asText()).isEqualTo("large");
        assertThat(event.path("attempts").asInt()).isEqualTo(3);
    }

    @Test
    void readsTheEventsTaskFieldsLenientlyFromTheOriginalBody() throws Exception {
        Exchange exchange = validated("{\"task_id\":\"t-8\",\"domain\":\"code-embedded\",\"tier\":\"Huge!\"}");

        JsonNode event = MAPPER.readTree(failureEvents.event(exchange));

        assertThat(event.path("task_id").asText()).isEqualTo("t-8");
        assertThat(event.path("domain").asText()).isEqualTo("code-embedded");
        assertThat(event.path("tier").asText()).isEqualTo("Huge!");
        assertThat(event.path("error").asText()).isEqualTo(Failure.INVALID_TASK);
        assertThat(event.path("reason").asText()).contains("description").contains("tier");
        assertThat(event.path("attempts").asInt()).isZero();
    }

    @Test
    void prefersAVariableOverTheOriginalBody() throws Exception {
        Exchange exchange = caught(new TaskValidationException("unknown tier"));
        exchange.getMessage().setBody("{\"task_id\":\"t-9\",\"domain\":\"ui-design\",\"tier\":\"huge\"}");
        exchange.setVariable(TaskVariables.TIER, "small");

        JsonNode event = MAPPER.readTree(failureEvents.event(exchange));

        assertThat(event.path("task_id").asText()).isEqualTo("t-9");
        assertThat(event.path("tier").asText()).isEqualTo("small");
    }

    @Test
    void leavesTaskFieldsNullWhenTheOriginalBodyIsNotJsonOrHasOtherTypes() throws Exception {
        Exchange notJson = validated("<task id='1'/>");
        Exchange numbers = caught(new TaskValidationException("bad"));
        numbers.getMessage().setBody("{\"task_id\":42,\"domain\":[\"x\"],\"tier\":{}}");

        JsonNode fromNotJson = MAPPER.readTree(failureEvents.event(notJson));
        JsonNode fromNumbers = MAPPER.readTree(failureEvents.event(numbers));

        for (JsonNode event : List.of(fromNotJson, fromNumbers)) {
            assertThat(event.path("task_id").isNull()).isTrue();
            assertThat(event.path("domain").isNull()).isTrue();
            assertThat(event.path("tier").isNull()).isTrue();
            assertThat(event.path("error").asText()).isEqualTo(Failure.INVALID_TASK);
        }
        assertThat(fromNotJson.path("reason").asText()).startsWith("the body is not valid JSON");
    }

    @Test
    void answersARestCallWithTheErrorBodyAndStatus() throws Exception {
        Exchange exchange = caught(new LlmCallException("frontier", 2, new TimeoutException("timed out")));
        exchange.setVariable(TaskVariables.TASK_ID, "t-10");

        JsonNode body = MAPPER.readTree(failureEvents.restError(exchange));

        assertThat(fieldNames(body)).containsExactly("error", "detail", "task_id");
        assertThat(body.path("error").asText()).isEqualTo(Failure.LLM_TIMEOUT);
        assertThat(body.path("detail").asText()).contains("anthropic model 'claude-sonnet-4-20250514'")
                .contains("600s").contains("2 attempt(s)");
        assertThat(body.path("task_id").asText()).isEqualTo("t-10");
        assertThat(exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE)).isEqualTo(504);
    }

    @Test
    void answersAnInvalidRestCallWith400AndNoTaskId() throws Exception {
        Exchange exchange = validated("{\"description\":\"x\",\"domain\":\"code-general\"}");
        failureEvents.classify(exchange);

        JsonNode body = MAPPER.readTree(failureEvents.restError(exchange));

        assertThat(body.path("error").asText()).isEqualTo("invalid_task");
        assertThat(body.path("detail").asText()).contains("task_id");
        assertThat(body.path("task_id").isNull()).isTrue();
        assertThat(exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE)).isEqualTo(400);
    }

    /** The body sent through the real request schema check; its exception stays on the exchange. */
    private static Exchange validated(String body) {
        Exchange exchange = exchange(body);
        template.send(REQUEST_SCHEMA, exchange);
        assertThat(exchange.getException()).as("the schema check must have failed").isNotNull();
        return exchange;
    }

    /** A failure caught by an error handler: the exception in EXCEPTION_CAUGHT, as onException and the DLC leave it. */
    private static Exchange caught(Exception failure) {
        Exchange exchange = exchange("{}");
        exchange.setProperty(Exchange.EXCEPTION_CAUGHT, failure);
        return exchange;
    }

    private static Exchange exchange(String body) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.getMessage().setBody(body);
        return exchange;
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
