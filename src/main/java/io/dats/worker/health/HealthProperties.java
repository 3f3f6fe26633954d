package io.dats.worker.health;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * How {@code /health} looks at the services the worker calls (each tier's LLM endpoint, an outside RAG service).
 *
 * @param probeTimeout connect and answer timeout of one look; a dead endpoint costs no more than this, once per
 *                     {@code probeCache}, on a background thread
 * @param probeCache   how long a look's result is served before the next look
 */
@ConfigurationProperties("worker.health")
public record HealthProperties(
        @DefaultValue("1s") Duration probeTimeout,
        @DefaultValue("5s") Duration probeCache) {
}
