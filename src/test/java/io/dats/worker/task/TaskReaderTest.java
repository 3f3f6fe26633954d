package io.dats.worker.task;

import java.util.Base64;
import java.util.List;

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

    @Test
    void rejectsAnUnknownTierInTheBodyOfAQueuedTask() {
        Exchange exchange = body("{\"task_id\":\"t-9\",\"description\":\"d\",\"domain\":\"ui-design\",\"tier\":\"huge\"}");
        exchange.setVariable(TaskVariables.TIER, "small");

        assertThatThrownBy(() -> reader.read(exchange))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("unknown tier 'huge'");
        assertThat(exchange.getVariable(TaskVariables.TASK_ID, String.class)).as("refusals name the task").isEqualTo("t-9");
    }

    @Test
    void settlesTheKindAndTemplateOfTheDomain() throws Exception {
        Exchange exchange = body("{\"task_id\":\"t-10\",\"description\":\"d\",\"domain\":\"documentation\"}");

        reader.read(exchange);

        assertThat(exchange.getVariable(TaskVariables.KIND, String.class)).isEqualTo("docs");
        assertThat(exchange.getVariable(TaskVariables.TEMPLATE, String.class)).isEqualTo("templates/documentation.vm");
    }

    @Test
    void acceptsImagesForAVisionTier() throws Exception {
        Exchange exchange = body(withImages("frontier", List.of(PNG, "data:image/jpeg;base64,/9j/4AAQ")));

        Task task = reader.read(exchange);

        assertThat(task.images()).hasSize(2);
    }

    @Test
    void refusesImagesForATierWithoutVision() {
        assertThatThrownBy(() -> reader.read(body(withImages("small", List.of(PNG)))))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("tier 'small' has no vision model (worker.tiers.small.vision is false)");
    }

    @Test
    void refusesMoreImagesThanTheLimit() {
        assertThatThrownBy(() -> reader.read(body(withImages("frontier", List.of(PNG, PNG, PNG, PNG, PNG)))))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("at most 4 are accepted (worker.images.max-count)");
    }

    @Test
    void refusesAnImageLargerThanTheLimit() {
        String large = "data:image/png;base64," + Base64.getEncoder().encodeToString(new byte[5 * 1024 * 1024 + 1]);

        assertThatThrownBy(() -> reader.read(body(withImages("frontier", List.of(large)))))
                .isInstanceOf(TaskValidationException.class)
                .hasMessageContaining("images[0] has 5242881 bytes; at most 5242880");
    }

    @Test
    void refusesUrlsAndBrokenBase64() {
        assertThatThrownBy(() -> reader.read(body(withImages("frontier", List.of("https://example.invalid/a.png")))))
                .isInstanceOf(TaskValidationException.class).hasMessageContaining("URLs are not fetched");
        assertThatThrownBy(() -> reader.read(body(withImages("frontier", List.of("data:image/svg+xml;base64,PHN2Zz4=")))))
                .isInstanceOf(TaskValidationException.class).hasMessageContaining("images[0] is not a data:image/");
        assertThatThrownBy(() -> reader.read(body(withImages("frontier", List.of("data:image/png;base64,@@@")))))
                .isInstanceOf(TaskValidationException.class).hasMessageContaining("not valid base64");
    }

    private static final String PNG = "data:image/png;base64,iVBORw0KGgo=";

    private static String withImages(String tier, List<String> images) {
        try {
            return new ObjectMapper().writeValueAsString(java.util.Map.of("task_id", "t-img", "description", "d",
                    "domain", "ui-design", "tier", tier, "images", images));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Exchange body(String json) {
        Exchange exchange = new DefaultExchange(camelContext);
        exchange.getMessage().setBody(json);
        return exchange;
    }
}
