package io.dats.worker.api;

import java.net.InetAddress;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.config.WorkerProperties.Provider;
import io.dats.worker.health.EndpointProbes;
import io.dats.worker.health.EndpointProbes.Probe;
import io.dats.worker.health.OllamaModels;
import io.dats.worker.intake.IntakeStatus;
import io.dats.worker.llm.ChatModelFactory;
import io.dats.worker.llm.TierLine;
import io.dats.worker.metrics.WorkerResources;
import io.dats.worker.rag.embedded.EmbeddedRagService;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ServiceStatus;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.health.CompositeHealth;
import org.springframework.boot.actuate.health.HealthComponent;
import org.springframework.boot.actuate.health.HealthEndpoint;
import org.springframework.boot.actuate.health.Status;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * {@code GET /health} (and {@code /api/v1/health}): the seed clients' view on top of actuator's probe groups.
 * {@code status} is the readiness group's ({@code /actuator/health/readiness}: Camel's readiness checks, i.e. the
 * tier intakes' routes and consumers and any other registered readiness check such as a tier's circuit breaker, the
 * broker, the task store), 200 {@code UP} or 503 {@code DOWN}; {@code liveness} is the liveness group's. Around it,
 * what a client or operator wants to know about the worker's availability: tasks in flight and waiting per tier
 * against the bound, CPU and memory, the broker, the task store, the RAG service, each tier's LLM endpoint (looked
 * at by {@link EndpointProbes}, cached) with the tiers that have no reachable model, and the configured domains.
 * An LLM endpoint or RAG service that is down is shown, not counted against {@code status}: tasks wait and retry
 * (LLM) or run without context (RAG).
 */
@Component("workerHealth")
public class WorkerHealth {

    private final CamelContext camelContext;
    private final HealthEndpoint healthEndpoint;
    private final WorkerProperties properties;
    private final ObjectMapper mapper;
    private final RestLine restLine;
    private final ObjectProvider<IntakeStatus> intakes;
    private final WorkerResources resources;
    private final EndpointProbes probes;
    private final ObjectProvider<EmbeddedRagService> embeddedRag;
    private final Environment environment;

    WorkerHealth(CamelContext camelContext, HealthEndpoint healthEndpoint, WorkerProperties properties,
                 ObjectMapper mapper, RestLine restLine, ObjectProvider<IntakeStatus> intakes,
                 WorkerResources resources, EndpointProbes probes, ObjectProvider<EmbeddedRagService> embeddedRag,
                 Environment environment) {
        this.camelContext = camelContext;
        this.healthEndpoint = healthEndpoint;
        this.properties = properties;
        this.mapper = mapper;
        this.restLine = restLine;
        this.intakes = intakes;
        this.resources = resources;
        this.probes = probes;
        this.embeddedRag = embeddedRag;
        this.environment = environment;
    }

    public String report(Exchange exchange) throws JsonProcessingException {
        HealthComponent readiness = healthEndpoint.healthForPath("readiness");
        HealthComponent liveness = healthEndpoint.healthForPath("liveness");
        boolean up = readiness != null && Status.UP.equals(readiness.getStatus());

        List<String> stopped = camelContext.getRoutes().stream()
                .map(route -> route.getRouteId())
                .filter(id -> camelContext.getRouteController().getRouteStatus(id) != ServiceStatus.Started)
                .sorted()
                .toList();

        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", up ? "UP" : "DOWN");
        body.put("liveness", status(liveness));
        body.put("readiness", status(readiness));
        body.put("not_ready", notReady(readiness));
        body.put("camel", camelContext.getStatus().name());
        body.put("routes_not_started", stopped.size());
        body.put("routes_stopped", stopped);
        body.put("rabbitmq", status(component(readiness, "rabbit")));
        body.put("database", status(component(readiness, "db")));
        body.put("rag", rag());
        body.put("active_tasks", resources.activeTasks());
        body.put("cpu_percent", resources.cpuPercent());
        body.put("memory_percent", resources.memoryPercent());

        Map<String, Object> tiers = new LinkedHashMap<>();
        List<String> withoutModel = new ArrayList<>();
        int queued = 0;
        for (Map.Entry<String, WorkerProperties.Tier> entry : properties.tiers().entrySet()) {
            String name = entry.getKey();
            WorkerProperties.Tier tier = entry.getValue();
            int waiting = TierLine.waiting(camelContext, name);
            queued += waiting;
            Map<String, Object> llm = llm(name, tier);
            if (withoutModel(llm)) {
                withoutModel.add(name);
            }
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("provider", tier.provider().name().toLowerCase());
            detail.put("model", tier.model());
            detail.put("concurrency", tier.concurrency());
            detail.put("waiting", waiting);
            detail.put("max_waiting", tier.maxWaiting());
            detail.put("rest_waiting", restLine.waiting(name));
            detail.put("llm", llm);
            tiers.put(name, detail);
        }
        body.put("queue_size", queued);
        body.put("tiers", tiers);
        body.put("tiers_without_model", withoutModel);
        Map<String, Object> domains = new LinkedHashMap<>();
        properties.domains().forEach((name, domain) -> {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("kind", domain.kind().name().toLowerCase());
            detail.put("default_tier", domain.defaultTier());
            domains.put(name, detail);
        });
        body.put("domains", domains);
        // the optional intakes (pull queue, MongoDB) that are configured: shown, not part of UP/DOWN
        intakes.orderedStream().filter(IntakeStatus::enabled).forEach(intake -> body.put(intake.name(), intake.status()));
        body.put("timestamp", Instant.now().toString());
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, up ? 200 : 503);
        return mapper.writeValueAsString(body);
    }

    /**
     * A tier's LLM endpoint: its URL and whether it answers; for Ollama also whether the server has the tier's model
     * ({@code /api/tags}). A tier whose provider needs a key it lacks has no usable model either.
     */
    private Map<String, Object> llm(String name, WorkerProperties.Tier tier) {
        Map<String, Object> llm = new LinkedHashMap<>();
        llm.put("url", tier.baseUrl().toString());
        if (tier.provider() == Provider.ANTHROPIC && !tier.hasApiKey()) {
            llm.put("reachable", false);
            llm.put("model_available", false);
            llm.put("detail", ChatModelFactory.missingApiKeyReason(name, tier.provider()));
            return llm;
        }
        if (tier.provider() == Provider.LOCAL) {
            // a GGUF file run inside the worker: its model is there when the file can be read (no server to ask)
            java.util.Optional<String> problem = io.dats.worker.llm.LocalModels.problem(name, tier);
            llm.put("reachable", problem.isEmpty());
            llm.put("model_available", problem.isEmpty());
            llm.put("detail", problem.orElse("GGUF file run inside the worker"));
            return llm;
        }
        boolean ollama = tier.provider() == Provider.OLLAMA;
        Probe probe = probes.probe(ollama ? OllamaModels.tagsUrl(tier.baseUrl()) : tier.baseUrl());
        Boolean hasModel = ollama && probe.reachable() ? OllamaModels.lists(probe.body(), tier.model()) : null;
        llm.put("reachable", probe.reachable());
        if (hasModel != null) {
            llm.put("model_available", hasModel);
        }
        String setting = "; see " + WorkerProperties.tierSetting(name, "base-url");
        if (!probe.reachable()) {
            llm.put("detail", probe.detail() + setting);
        } else if (Boolean.FALSE.equals(hasModel)) {
            llm.put("detail", "the Ollama server does not have the model '" + tier.model() + "' (ollama pull "
                    + tier.model() + ", or set worker.tiers." + name + ".model)");
        } else {
            llm.put("detail", probe.detail());
        }
        llm.put("checked_at", probe.checkedAt().toString());
        return llm;
    }

    /** A tier that cannot run a task now: its endpoint does not answer, or it answers without the tier's model. */
    static boolean withoutModel(Map<String, Object> llm) {
        return !Boolean.TRUE.equals(llm.get("reachable")) || Boolean.FALSE.equals(llm.get("model_available"));
    }

    /** The embedded RAG service (the worker's own endpoint) with its index state, or the outside one and whether it answers. */
    private Map<String, Object> rag() {
        URI url = properties.rag().url();
        Map<String, Object> rag = new LinkedHashMap<>();
        EmbeddedRagService embedded = embeddedRag.getIfAvailable();
        if (embedded != null && isOwnEndpoint(url)) {
            rag.put("mode", "embedded");
            rag.put("url", url.toString());
            rag.put("status", "UP");
            rag.put("startup_index", embedded.startupIndex());
            return rag;
        }
        Probe probe = probes.probe(url);
        rag.put("mode", "external");
        rag.put("url", url.toString());
        rag.put("status", probe.reachable() ? "UP" : "DOWN");
        rag.put("detail", probe.detail());
        rag.put("checked_at", probe.checkedAt().toString());
        return rag;
    }

    /** Whether the URL points at this worker's own web server (the default worker.rag.url). */
    private boolean isOwnEndpoint(URI url) {
        Integer port = environment.getProperty("local.server.port", Integer.class);
        if (port == null || url.getPort() != port || url.getHost() == null) {
            return false;
        }
        try {
            return InetAddress.getByName(url.getHost()).isLoopbackAddress();
        } catch (Exception e) {
            return false;
        }
    }

    /** The parts of readiness that are not UP: the group's components, and for Camel the failing check ids. */
    private List<String> notReady(HealthComponent readiness) {
        List<String> down = new ArrayList<>();
        if (readiness instanceof CompositeHealth composite) {
            composite.getComponents().forEach((name, component) -> {
                if (!Status.UP.equals(component.getStatus())) {
                    down.add(name);
                }
            });
        }
        if (down.contains("camelReadinessState")) {
            HealthCheckHelper.invokeReadiness(camelContext).stream()
                    .filter(result -> result.getState() != HealthCheck.State.UP)
                    .map(result -> result.getCheck().getId())
                    .sorted()
                    .forEach(down::add);
        }
        return down;
    }

    private static HealthComponent component(HealthComponent group, String name) {
        return group instanceof CompositeHealth composite ? composite.getComponents().get(name) : null;
    }

    private static String status(HealthComponent component) {
        return component == null ? "UNKNOWN" : component.getStatus().getCode();
    }
}
