package io.dats.worker.intake;

import java.time.Duration;

import jakarta.validation.constraints.Min;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code worker.mongo.*}: the MongoDB context polling intake (seed 004, routes/mongo-contexts.camel.yaml), on when
 * {@code uri} is set.
 *
 * @param uri          a MongoDB connection string ({@code mongodb://host:27017/worker}); blank = intake off
 * @param database     the database of the collection
 * @param collection   the collection of contexts
 * @param pollInterval the pause between polls
 * @param batchSize    contexts claimed and run per poll at most
 * @param lease        how long a claim holds: a context still {@code claimed} after its lease is taken by any worker
 */
@Validated
@ConfigurationProperties("worker.mongo")
public record MongoIntakeProperties(
        String uri,
        @DefaultValue("worker") String database,
        @DefaultValue("contexts") String collection,
        @DefaultValue("5s") Duration pollInterval,
        @DefaultValue("10") @Min(1) int batchSize,
        @DefaultValue("30m") Duration lease) {

    public boolean enabled() {
        return uri != null && !uri.isBlank();
    }
}
