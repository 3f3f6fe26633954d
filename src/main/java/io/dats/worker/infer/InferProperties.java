package io.dats.worker.infer;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/** {@code POST /v1/infer} settings ({@code worker.infer.*}): the tier of a request that names none. */
@ConfigurationProperties("worker.infer")
public record InferProperties(@DefaultValue("small") String defaultTier) {
}
