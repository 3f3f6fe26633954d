package io.dats.worker.rag;

import java.net.SocketTimeoutException;
import java.util.List;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RagContextStrategyTest {

    private static CamelContext camelContext;

    private final RagContextStrategy strategy = new RagContextStrategy(new ObjectMapper());

    @BeforeAll
    static void startCamel() {
        camelContext = new DefaultCamelContext();
        camelContext.start();
    }

    @AfterAll
    static void stopCamel() {
        camelContext.stop();
    }

    @Test
    void marksTheContextUnavailableWhenTheRagCallFailed() {
        Exchange original = task("the task body");
        Exchange rag = answer(null);
        rag.setException(new SocketTimeoutException("Read timed out"));

        Exchange result = strategy.aggregate(original, rag);

        assertThat(result).isSameAs(original);
        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.UNAVAILABLE);
        assertThat(result.getVariable(TaskVariables.RAG_CONTEXT)).isEqualTo("");
        assertThat(result.getVariable(TaskVariables.RAG_SOURCES)).isEqualTo(List.of());
        assertThat(result.getException()).isNull();
        assertThat(result.getMessage().getBody()).isEqualTo("the task body");
    }

    @Test
    void marksTheContextUnavailableWhenThereIsNoRagExchange() {
        Exchange result = strategy.aggregate(task("body"), null);

        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.UNAVAILABLE);
    }

    @Test
    void marksABlankContextEmpty() {
        Exchange result = strategy.aggregate(task("body"), answer("{\"context\":\"  \\n\",\"sources\":[]}"));

        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.EMPTY);
        assertThat(result.getVariable(TaskVariables.RAG_SOURCES)).isEqualTo(List.of());
    }

    @Test
    void marksANullContextEmpty() {
        Exchange result = strategy.aggregate(task("body"), answer("{\"context\":null}"));

        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.EMPTY);
        assertThat(result.getVariable(TaskVariables.RAG_CONTEXT)).isEqualTo("");
    }

    @Test
    void usesAContextWithItsSources() {
        Exchange original = task("the task body");

        Exchange result = strategy.aggregate(original,
                answer("{\"context\":\"## Retrieved\\n- snippet\",\"sources\":[\"doc://a\",{\"uri\":\"doc://b\"}]}"));

        assertThat(result).isSameAs(original);
        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.USED);
        assertThat(result.getVariable(TaskVariables.RAG_CONTEXT)).isEqualTo("## Retrieved\n- snippet");
        assertThat(result.getVariable(TaskVariables.RAG_SOURCES)).isEqualTo(List.of("doc://a", "{\"uri\":\"doc://b\"}"));
        assertThat(result.getMessage().getBody()).isEqualTo("the task body");
    }

    @Test
    void marksMalformedJsonUnavailable() {
        Exchange result = strategy.aggregate(task("body"), answer("<html>502 Bad Gateway</html>"));

        assertThat(result.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.UNAVAILABLE);
        assertThat(result.getVariable(TaskVariables.RAG_CONTEXT)).isEqualTo("");
    }

    @Test
    void marksAnAnswerWithoutAContextStringUnavailable() {
        for (String body : List.of("{\"sources\":[]}", "{\"context\":42}", "{\"context\":{\"text\":\"x\"}}", "[]", "",
                "null")) {
            Exchange result = strategy.aggregate(task("body"), answer(body));

            assertThat(result.getVariable(TaskVariables.RAG_STATUS)).as(body).isEqualTo(RagContextStrategy.UNAVAILABLE);
        }
    }

    @Test
    void replacesTheVariablesOfAnEarlierAggregation() {
        Exchange original = task("body");
        strategy.aggregate(original, answer("{\"context\":\"old\",\"sources\":[\"doc://old\"]}"));

        strategy.aggregate(original, answer("{\"context\":\"not closed"));

        assertThat(original.getVariable(TaskVariables.RAG_STATUS)).isEqualTo(RagContextStrategy.UNAVAILABLE);
        assertThat(original.getVariable(TaskVariables.RAG_CONTEXT)).isEqualTo("");
        assertThat(original.getVariable(TaskVariables.RAG_SOURCES)).isEqualTo(List.of());
    }

    @Test
    void handlesANullOldExchange() {
        Exchange rag = answer("{\"context\":\"x\"}");

        assertThat(strategy.aggregate(null, rag)).isSameAs(rag);
    }

    private static Exchange task(String body) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.setVariable(TaskVariables.TASK_ID, "t-1");
        exchange.getMessage().setBody(body);
        return exchange;
    }

    private static Exchange answer(String body) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.getMessage().setBody(body);
        return exchange;
    }
}
