package io.dats.worker.identity;

import java.util.Map;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Seed 001's {@code WorkerInfo}, answered by {@code GET /info} and sent in every heartbeat. {@code model_id} is the
 * model of the infer default tier ({@code worker.infer.default-tier}); {@code models} (an addition to the contract,
 * ignored by clients that do not know it) names the model of every tier.
 */
public record WorkerInfo(
        String id,
        @JsonProperty("model_id") String modelId,
        String device,
        int port,
        WorkerStatus status,
        String implementation,
        String version,
        Map<String, String> models) {
}
