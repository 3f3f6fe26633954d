package io.dats.worker.identity;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.infer.InferProperties;
import org.apache.camel.Exchange;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * Who this worker is ({@code GET /info}, heartbeats): {@code worker.id} (environment {@code HOSTNAME} by default,
 * else the host name), the infer default tier's model, the device, the HTTP port the server listens on, the status
 * ({@link WorkerLifecycle}), the implementation name and version ({@code worker.info.*}; the version defaults to
 * the jar's {@code Implementation-Version}).
 */
@Component("workerIdentity")
public class WorkerIdentity {

    private final String id;
    private final IdentityProperties identity;
    private final WorkerProperties properties;
    private final InferProperties infer;
    private final WorkerLifecycle lifecycle;
    private final Environment environment;
    private final ObjectMapper mapper;

    WorkerIdentity(@Value("${worker.id:}") String id, IdentityProperties identity, WorkerProperties properties,
                   InferProperties infer, WorkerLifecycle lifecycle, Environment environment, ObjectMapper mapper) {
        this.id = id == null || id.isBlank() ? IdentityProperties.hostName() : id;
        this.identity = identity;
        this.properties = properties;
        this.infer = infer;
        this.lifecycle = lifecycle;
        this.environment = environment;
        this.mapper = mapper;
    }

    public WorkerInfo info() {
        return info(lifecycle.status());
    }

    /** The info with the given status (the last heartbeat says {@code stopped} whatever the moment). */
    public WorkerInfo info(WorkerStatus status) {
        Map<String, String> models = new LinkedHashMap<>();
        properties.tiers().forEach((name, tier) -> models.put(name, tier.model()));
        return new WorkerInfo(id, properties.tier(infer.defaultTier()).model(), identity.device(), port(), status,
                identity.implementation(), version(), models);
    }

    /** {@code GET /info} (routes/worker-contract.camel.yaml): the info as JSON. */
    public String report(Exchange exchange) throws JsonProcessingException {
        return mapper.writeValueAsString(info());
    }

    private int port() {
        Integer local = environment.getProperty("local.server.port", Integer.class);
        return local != null ? local : environment.getProperty("server.port", Integer.class, 8080);
    }

    private String version() {
        if (!identity.version().isBlank()) {
            return identity.version();
        }
        String fromJar = WorkerIdentity.class.getPackage().getImplementationVersion();
        return fromJar == null ? "dev" : fromJar;
    }
}
