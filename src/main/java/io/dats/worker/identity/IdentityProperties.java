package io.dats.worker.identity;

import java.net.InetAddress;
import java.net.UnknownHostException;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * What {@code GET /info} and the heartbeats say about this worker besides its status ({@code worker.info.*}):
 * the device it computes on, its implementation name and version. The worker id is {@code worker.id}
 * ({@link WorkerIdentity}).
 */
@ConfigurationProperties("worker.info")
public record IdentityProperties(
        @DefaultValue("cpu") String device,
        @DefaultValue("llm-task-worker") String implementation,
        @DefaultValue("") String version) {

    /** The host name, for a worker id when neither {@code worker.id} nor {@code HOSTNAME} is set. */
    static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
