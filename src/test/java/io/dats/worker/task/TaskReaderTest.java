package io.dats.worker.task;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.TestWorkerProperties;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TaskReaderTest {

    private static CamelContext camelContext;

    private final TaskReader reader = new TaskReader(new ObjectMapper(), TestWorkerProperties.defaults());

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
    void givesTheQueuesTierPrecedenceOverTheBodysTier() throws Exception {
        Exchange exchange = body("{\"task_id\":\"t-1\",\"description\":\"d\",\"domain\":\"code-general\",\"tier\":\"frontier\"}");
        exchange.setVariable(TaskVariables.TIER, "tiny");

        Task task = reader.read(exchange);

        assertThat(task.tier()).isEqualTo("tiny");
        assertThat(exchange.getVariable(TaskVariables.TIER)).isEqualTo("tiny");
        assertThat(exchange.getVariable(TaskVariables.TASK, Task.class).tier()).isEqualTo("tiny");
    }

    @Test
    void takesTheBodysTierWhenNoQueueSetOne() throws Exception {
        Exchange exchange = body("{\"task_id\":\"t-2\",\"description\":\"d\",\"domain\":\"code-general\",\"tier\":\"coding\"}");

        Task task = reader.read(exchange);

        assertThat(task.tier()).isEqualTo("coding");
        assertThat(exchange.getVariable(TaskVariables.TIER)).isEqualTo("coding");
    }

    @Test
    void fallsBackToTheDomainsDefaultTier() throws Exception {
        Exchange vision = body("{\"task_id\":\"t-3\",\"description\":\"d\",\"domain\":\"code-vision\"}");
        Exchange embedded = body("{\"task_id\":\"t-4\",\"description\":\"d\",\"domain\":\"code-embedded\",\"tier\":null}");

        assertThat(reader.read(vision).tier()).isEqualTo("large");
        assertThat(reader.read(embedded).tier()).isEqualTo("small");
    }

    @Test
    void setsTheTaskVariablesAndKeepsEveryField() throws Exception {
        Exchange exchange = body("{\"task_id\":\"t-5\",\"description\":\"Write fib\",\"domain\":\"documentation\","
                + "\"context\":\"ctx\",\"project_id\":\"p-1\",\"extra\":{\"ignored\":true}}");

        Task task = reader.read(exchange);

        assertThat(task).isEqualTo(new Task("t-5", "Write fib", "documentation", "small", "ctx", "p-1"));
        assertThat(exchange.getVariable(TaskVariables.TASK)).isEqualTo(task);
        assertThat(exchange.getVariable(TaskVariables.TASK_ID)).isEqualTo("t-5");
        assertThat(exchange.getVariable(TaskVariables.DOMAIN)).isEqualTo("documentation");
        assertThat(exchange.getVariable(TaskVariables.TIER)).isEqualTo("small");
    }

    @Test
    void rejectsAnUnknownDomain() {
        Exchange exchange = body("{\"task_id\":\"t-6\",\"description\":\"d\",\"domain\":\"cooking\"}");

        assertThatThrownBy(() -> reader.read(exchange))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("unknown domain 'cooking'")
                .hasMessageContaining("code-general");
        assertThat(exchange.getVariable(TaskVariables.TASK)).isNull();
    }

    @Test
    void rejectsAnUnknownTierFromTheBody() {
        Exchange exchange = body("{\"task_id\":\"t-7\",\"description\":\"d\",\"domain\":\"ui-design\",\"tier\":\"huge\"}");

        assertThatThrownBy(() -> reader.read(exchange))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("unknown tier 'huge'")
                .hasMessageContaining("frontier");
    }

    @Test
    void rejectsAnUnknownTierFromTheQueue() {
        Exchange exchange = body("{\"task_id\":\"t-8\",\"description\":\"d\",\"domain\":\"ui-design\",\"tier\":\"large\"}");
        exchange.setVariable(TaskVariables.TIER, "gigantic");

        assertThatThrownBy(() -> reader.read(exchange))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("unknown tier 'gigantic'");
    }

    private static Exchange body(String json) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.getMessage().setBody(json);
        return exchange;
    }
}
