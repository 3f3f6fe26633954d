package io.dats.worker.identity;

import java.net.URI;
import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * The worker registry ("queen") that gets heartbeats ({@code worker.registry.*}): none when {@code url} is blank.
 * {@code timeout} bounds each heartbeat's connect and answer, so a slow registry costs the heartbeat thread at most
 * that much and never a worker thread.
 */
@ConfigurationProperties("worker.registry")
public record RegistryProperties(
        URI url,
        @DefaultValue("30s") Duration interval,
        @DefaultValue("2s") Duration timeout) {

    public boolean enabled() {
        return url != null && !url.toString().isBlank();
    }

    /** {@code POST {url}/v1/worker-heartbeat}. */
    public URI heartbeatUri() {
        String base = url.toString();
        return URI.create((base.endsWith("/") ? base.substring(0, base.length() - 1) : base) + "/v1/worker-heartbeat");
    }
}
