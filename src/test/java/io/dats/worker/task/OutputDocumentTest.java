package io.dats.worker.task;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.llm.LlmCallTracker;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OutputDocumentTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final String ANSWER = "Here is the code.\n\n```python src/fib.py\ndef fib(n):\n    return n\n```\n"
            + "\n```\nprint(fib(3))\n```\n";

    private static CamelContext camelContext;
    private static JsonSchema outputSchema;

    private final OutputDocument outputDocument = new OutputDocument(MAPPER, TestWorkerProperties.defaults());

    @BeforeAll
    static void startCamel() throws Exception {
        camelContext = new DefaultCamelContext();
        camelContext.start();
        try (InputStream schema = OutputDocumentTest.class.getResourceAsStream("/schema/task-output.schema.json")) {
            outputSchema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(schema);
        }
    }

    @AfterAll
    static void stopCamel() {
        camelContext.stop();
    }

    @Test
    void derivesTheArtifactIdFromTheTaskIdAlone() {
        assertThat(OutputDocument.artifactId("task-1")).isEqualTo(OutputDocument.artifactId("task-1"))
                .matches("^art-[0-9a-f-]{36}$");
        assertThat(OutputDocument.artifactId("task-1")).isNotEqualTo(OutputDocument.artifactId("task-2"));
    }

    @Test
    void buildsTheDocumentWithItsFieldsInContractOrder() throws Exception {
        Exchange exchange = answered(new Task("task-1", "fib", "code-general", "small", null, null), ANSWER);
        exchange.setVariable(TaskVariables.RAG_STATUS, "used");
        exchange.setVariable(LlmCallTracker.TOKENS_USED, 1234);
        exchange.setVariable(LlmCallTracker.MODEL, "gemma3:12b-it-q4");

        JsonNode document = MAPPER.readTree(outputDocument.build(exchange));

        assertThat(fieldNames(document)).containsExactly("task_id", "artifact_id", "status", "domain", "tier", "model",
                "output", "tokens_used", "execution_time_ms", "rag");
        assertThat(document.path("task_id").asText()).isEqualTo("task-1");
        assertThat(document.path("artifact_id").asText()).isEqualTo(OutputDocument.artifactId("task-1"));
        assertThat(document.path("status").asText()).isEqualTo("completed");
        assertThat(document.path("domain").asText()).isEqualTo("code-general");
        assertThat(document.path("tier").asText()).isEqualTo("small");
        assertThat(document.path("model").asText()).isEqualTo("gemma3:12b-it-q4");
        assertThat(document.path("tokens_used").isInt()).isTrue();
        assertThat(document.path("tokens_used").asInt()).isEqualTo(1234);
        assertThat(document.path("execution_time_ms").canConvertToLong()).isTrue();
        assertThat(document.path("execution_time_ms").asLong()).isGreaterThanOrEqualTo(0);
        assertThat(document.path("rag").asText()).isEqualTo("used");
        assertThat(fieldNames(document.path("output"))).containsExactly("content", "artifacts");
        assertThat(document.path("output").path("content").asText()).isEqualTo(ANSWER);
    }

    @Test
    void carriesTheArtifactsOfTheKindsBranchWithTheDomainsLanguageAsDefault() throws Exception {
        Exchange exchange = answered(new Task("task-2", "fib", "code-embedded", "small", null, null), ANSWER);
        exchange.setVariable(TaskVariables.RAG_STATUS, "empty");
        exchange.setVariable(TaskVariables.DOMAIN, "code-embedded");
        exchange.setVariable(TaskVariables.ARTIFACTS, new Artifacts(TestWorkerProperties.defaults()).code(exchange));

        JsonNode artifacts = MAPPER.readTree(outputDocument.build(exchange)).path("output").path("artifacts");

        assertThat(artifacts).hasSize(2);
        assertThat(fieldNames(artifacts.get(0))).containsExactly("type", "language", "path", "content");
        assertThat(artifacts.get(0).path("language").asText()).isEqualTo("python");
        assertThat(artifacts.get(0).path("path").asText()).isEqualTo("src/fib.py");
        assertThat(artifacts.get(1).path("language").asText()).isEqualTo("c");
        assertThat(artifacts.get(1).path("path").asText()).isEqualTo("artifact-2.c");
        assertThat(artifacts.get(1).path("content").asText()).isEqualTo("print(fib(3))\n");
    }

    @Test
    void takesTheModelOfTheTierAndNoTokensWhenTheTrackerSetNothing() throws Exception {
        Exchange exchange = answered(new Task("task-3", "doc", "documentation", "large", null, null), "Plain answer.");
        exchange.setVariable(TaskVariables.RAG_STATUS, "unavailable");

        JsonNode document = MAPPER.readTree(outputDocument.build(exchange));

        assertThat(document.path("model").asText()).isEqualTo("openai/gpt-oss-20b");
        assertThat(document.path("tokens_used").asInt()).isZero();
        assertThat(document.path("output").path("artifacts")).isEmpty();
    }

    @Test
    void producesADocumentThatMatchesTheOutputSchema() throws Exception {
        Exchange exchange = answered(new Task("task-4", "fib", "ui-design", "frontier", "ctx", "p-1"), ANSWER);
        exchange.setVariable(TaskVariables.RAG_STATUS, "used");
        exchange.setVariable(TaskVariables.DOMAIN, "ui-design");
        exchange.setVariable(TaskVariables.ARTIFACTS, new Artifacts(TestWorkerProperties.defaults()).ui(exchange));
        exchange.setVariable(LlmCallTracker.TOKENS_USED, 77);
        exchange.setVariable(LlmCallTracker.MODEL, "claude-sonnet-4-20250514");

        Set<ValidationMessage> errors = outputSchema.validate(MAPPER.readTree(outputDocument.build(exchange)));

        assertThat(errors).isEmpty();
    }

    private static Exchange answered(Task task, String answer) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.setVariable(TaskVariables.TASK, task);
        exchange.getMessage().setBody(answer);
        return exchange;
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
