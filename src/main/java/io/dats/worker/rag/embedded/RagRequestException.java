package io.dats.worker.rag.embedded;

/** A request to the embedded RAG service that cannot be served as sent: answered with 400. */
public class RagRequestException extends IllegalArgumentException {

    public RagRequestException(String message) {
        super(message);
    }
}
