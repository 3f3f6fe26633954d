package io.dats.worker.rag;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.AggregationStrategy;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * Enrich strategy for the RAG call: puts the retrieved context into variables and never fails the task.
 * A RAG service that is down, slow or answers nonsense makes the status {@code unavailable};
 * a blank context makes it {@code empty}; otherwise {@code used}.
 */
@Component("ragContextStrategy")
public class RagContextStrategy implements AggregationStrategy {

    public static final String USED = "used";
    public static final String EMPTY = "empty";
    public static final String UNAVAILABLE = "unavailable";
    /** Set by the rag-context route when the call failed (it handles the failure, so Hawtio counts no failed exchange). */
    public static final String RAG_FAILURE = "ragFailure";

    private static final Logger LOG = LoggerFactory.getLogger(RagContextStrategy.class);

    private final ObjectMapper mapper;

    RagContextStrategy(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    @Override
    public Exchange aggregate(Exchange original, Exchange rag) {
        if (original == null) {
            return rag;
        }
        original.setVariable(TaskVariables.RAG_CONTEXT, "");
        original.setVariable(TaskVariables.RAG_SOURCES, List.of());
        String handledFailure = rag == null ? null : rag.getVariable(RAG_FAILURE, String.class);
        if (rag == null || rag.getException() != null || handledFailure != null) {
            Exception failure = rag == null ? null : rag.getException();
            LOG.warn("RAG service unavailable for task {}: {}", original.getVariable(TaskVariables.TASK_ID),
                    failure != null ? failure.getMessage() : handledFailure != null ? handledFailure : "no answer");
            original.setVariable(TaskVariables.RAG_STATUS, UNAVAILABLE);
            return original;
        }
        try {
            JsonNode answer = mapper.readTree(rag.getMessage().getBody(String.class));
            JsonNode context = answer == null ? null : answer.get("context");
            if (context == null || !(context.isTextual() || context.isNull())) {
                throw new IllegalArgumentException("no 'context' string in the answer");
            }
            String text = context.asText("");
            List<String> sources = new ArrayList<>();
            answer.path("sources").forEach(source -> sources.add(source.isTextual() ? source.asText() : source.toString()));
            original.setVariable(TaskVariables.RAG_CONTEXT, text);
            original.setVariable(TaskVariables.RAG_SOURCES, List.copyOf(sources));
            original.setVariable(TaskVariables.RAG_STATUS, text.isBlank() ? EMPTY : USED);
        } catch (Exception e) {
            LOG.warn("RAG answer for task {} is unusable: {}", original.getVariable(TaskVariables.TASK_ID), e.getMessage());
            original.setVariable(TaskVariables.RAG_STATUS, UNAVAILABLE);
        }
        return original;
    }
}
