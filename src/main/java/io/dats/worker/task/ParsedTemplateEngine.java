package io.dats.worker.task;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.velocity.Template;
import org.apache.velocity.app.VelocityEngine;
import org.apache.velocity.context.Context;
import org.apache.velocity.exception.ParseErrorException;
import org.apache.velocity.runtime.RuntimeInstance;
import org.apache.velocity.runtime.parser.ParseException;

/**
 * The Velocity engine of the {@code velocity:} component, keeping each template parsed. Camel's Velocity endpoint hands
 * the engine the template text on every exchange ({@code evaluate(context, writer, tag, reader)}), and a plain engine
 * parses it again each time: about 8% of the worker's CPU per task (README "Benchmark"). This engine parses a text
 * once and renders the parsed {@link Template} (thread-safe once initialised) from then on; the output is the same.
 *
 * <p>The cache is keyed by the template text, so the endpoint's own rules still decide what the text is: with
 * {@code camel.component.velocity.content-cache=false} (the dev profile) an edited file is read, parsed and rendered
 * on the next task. Only the worker's templates (templates/*.vm) ever reach it: task data are values in the context,
 * never template text ({@code allowTemplateFromHeader} stays false).
 */
public final class ParsedTemplateEngine extends VelocityEngine {

    /** Distinct template texts kept at most (a few per domain; edits in the dev profile add one each). */
    static final int MAX_TEMPLATES = 256;

    private final RuntimeInstance runtime = new RuntimeInstance();
    private final Map<String, Template> parsed = new ConcurrentHashMap<>();

    public ParsedTemplateEngine() {
        Properties properties = new Properties();
        // what Camel's VelocityEndpoint gives the engine it makes (its log name); no resource loader is used here
        properties.setProperty("runtime.log.name", "org.apache.camel.maven.Velocity");
        runtime.init(properties);
    }

    @Override
    public boolean evaluate(Context context, Writer writer, String logTag, Reader reader) {
        String text = read(reader);
        Template template = parsed.get(text);
        if (template == null) {
            if (parsed.size() >= MAX_TEMPLATES) {
                parsed.clear();
            }
            template = parsed.computeIfAbsent(text, source -> parse(source, logTag));
        }
        template.merge(context, writer);
        return true;
    }

    @Override
    public boolean evaluate(Context context, Writer writer, String logTag, String text) {
        return evaluate(context, writer, logTag, new StringReader(text));
    }

    /** Number of distinct template texts parsed and kept (for tests). */
    int parsedTemplates() {
        return parsed.size();
    }

    private Template parse(String text, String logTag) {
        Template template = new Template();
        template.setName(logTag);
        template.setRuntimeServices(runtime);
        try {
            template.setData(runtime.parse(new StringReader(text), template));
        } catch (ParseException e) {
            throw new ParseErrorException(e, null);
        }
        template.initDocument();
        return template;
    }

    private static String read(Reader reader) {
        try (reader) {
            StringBuilder text = new StringBuilder(4096);
            char[] buffer = new char[4096];
            for (int n = reader.read(buffer); n >= 0; n = reader.read(buffer)) {
                text.append(buffer, 0, n);
            }
            return text.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
