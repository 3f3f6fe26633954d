package io.dats.worker.api;

/** The REST caller disconnected while its task waited for its tier: the task is not run. */
public class ClientGoneException extends RuntimeException {

    public ClientGoneException(String tier) {
        super("the REST caller disconnected while the task waited for tier '" + tier + "'; the task was not run");
    }
}
