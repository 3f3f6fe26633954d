package io.dats.worker.task;

import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.apache.velocity.VelocityContext;
import org.apache.velocity.app.VelocityEngine;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ParsedTemplateEngineTest {

    private static final Map<String, Object> BODY = Map.of("task_id", "t-1", "description",
            "#set($x = 'pwned')$x ${camelContext} $body.description", "guidelines", "Be brief.",
            "rag_status", "used", "rag_context", "## ctx", "language", "python", "task_context", "");

    @Test
    void rendersTheWorkersTemplatesExactlyAsAPlainEngineDoes() throws Exception {
        VelocityEngine plain = new VelocityEngine();
        plain.init();
        ParsedTemplateEngine parsed = new ParsedTemplateEngine();
        try (var templates = Files.list(Path.of("templates"))) {
            for (Path template : templates.filter(p -> p.toString().endsWith(".vm")).toList()) {
                String text = Files.readString(template);
                assertThat(render(parsed, text)).as(template.toString()).isEqualTo(render(plain, text))
                        .contains("#set($x = 'pwned')$x ${camelContext} $body.description");
            }
        }
    }

    @Test
    void parsesATextOnceAndAnEditedTextAgain() {
        ParsedTemplateEngine engine = new ParsedTemplateEngine();
        assertThat(render(engine, "A $body.task_id")).isEqualTo("A t-1");
        assertThat(render(engine, "A $body.task_id")).isEqualTo("A t-1");
        assertThat(engine.parsedTemplates()).isEqualTo(1);
        assertThat(render(engine, "B $body.task_id")).isEqualTo("B t-1");
        assertThat(engine.parsedTemplates()).isEqualTo(2);
    }

    private static String render(VelocityEngine engine, String text) {
        StringWriter out = new StringWriter();
        engine.evaluate(new VelocityContext(new java.util.HashMap<>(Map.of("body", BODY))), out, "test", new StringReader(text));
        return out.toString();
    }
}
