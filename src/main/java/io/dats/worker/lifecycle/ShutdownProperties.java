package io.dats.worker.lifecycle;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * {@code worker.shutdown.*}: how long a stopping worker (SIGTERM, every deploy) lets the tasks it has started finish.
 *
 * @param drainTimeout the budget; unset, it is derived from the tiers: the longest tier timeout (one attempt) plus the
 *                     RAG timeout plus {@link GracefulShutdown#PUBLISH_MARGIN}
 */
@ConfigurationProperties("worker.shutdown")
public record ShutdownProperties(Duration drainTimeout) {
}
