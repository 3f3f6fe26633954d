package io.dats.worker.task;

import java.util.List;

import io.dats.worker.config.WorkerProperties;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/** The branches of the pipeline's router by kind of output: the model's answer (the body) turned into artifacts. */
@Component("artifacts")
public class Artifacts {

    private final WorkerProperties properties;

    Artifacts(WorkerProperties properties) {
        this.properties = properties;
    }

    /** {@code code}: one code artifact per fenced block. */
    public List<ArtifactExtractor.Artifact> code(Exchange exchange) {
        return ArtifactExtractor.extract(answer(exchange), language(exchange));
    }

    /** {@code docs}: markdown documents, headings preserved. */
    public List<ArtifactExtractor.Artifact> docs(Exchange exchange) {
        return ArtifactExtractor.documents(answer(exchange));
    }

    /** {@code ui}: html, css, tsx/jsx and svg artifacts. */
    public List<ArtifactExtractor.Artifact> ui(Exchange exchange) {
        return ArtifactExtractor.ui(answer(exchange), language(exchange));
    }

    private static String answer(Exchange exchange) {
        return exchange.getMessage().getBody(String.class);
    }

    private String language(Exchange exchange) {
        return properties.domain(exchange.getVariable(TaskVariables.DOMAIN, String.class)).language();
    }
}
