package io.dats.worker.intake;

import java.time.Duration;
import java.util.List;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * {@code worker.pull.*}: the pull-based HTTP queue intake (seed 003, routes/pull-queue.camel.yaml), on when {@code url}
 * is set.
 *
 * @param url          the queue service's base URL ({@code QUEUE_SERVICE_URL}); blank = intake off
 * @param apiKey       sent as {@code X-API-Key} when set ({@code API_KEY}; environment only)
 * @param interval     the pause after a poll that found no work
 * @param backoffBase  the first backoff step on connection failure; step n waits n x base
 * @param backoffMax   the longest backoff step
 * @param timeout      connect and answer timeout of each call to the queue service
 * @param tiers        the tiers whose bound a poll waits for (a task's tier is known only once it arrived); empty = all
 */
@ConfigurationProperties("worker.pull")
public record PullProperties(
        String url,
        String apiKey,
        @DefaultValue("5s") Duration interval,
        @DefaultValue("5s") Duration backoffBase,
        @DefaultValue("30s") Duration backoffMax,
        @DefaultValue("10s") Duration timeout,
        List<String> tiers) {

    public PullProperties {
        tiers = tiers == null ? List.of() : List.copyOf(tiers);
    }

    public boolean enabled() {
        return url != null && !url.isBlank();
    }

    /** The base URL without a trailing slash. */
    public String baseUrl() {
        String base = url.trim();
        return base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    public boolean hasApiKey() {
        return apiKey != null && !apiKey.isBlank();
    }
}
