package io.dats.worker.api;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.TierLine;
import io.dats.worker.intake.IntakeStatus;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ServiceStatus;

import org.springframework.amqp.rabbit.connection.Connection;
import org.springframework.amqp.rabbit.connection.ConnectionFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * {@code GET /health}: 200 {@code {"status":"UP"}} when the worker can take work (Camel started, every route
 * started, the broker connection open), 503 {@code DOWN} otherwise, with the detail per part.
 */
@Component("workerHealth")
public class WorkerHealth {

    private final CamelContext camelContext;
    private final ConnectionFactory connectionFactory;
    private final WorkerProperties properties;
    private final ObjectMapper mapper;
    private final RestLine restLine;
    private final ObjectProvider<IntakeStatus> intakes;

    WorkerHealth(CamelContext camelContext, ConnectionFactory connectionFactory, WorkerProperties properties,
                 ObjectMapper mapper, RestLine restLine, ObjectProvider<IntakeStatus> intakes) {
        this.restLine = restLine;
        this.camelContext = camelContext;
        this.connectionFactory = connectionFactory;
        this.properties = properties;
        this.mapper = mapper;
        this.intakes = intakes;
    }

    public String report(Exchange exchange) throws JsonProcessingException {
        boolean camelUp = camelContext.getStatus() == ServiceStatus.Started;
        long routesDown = camelContext.getRoutes().stream()
                .filter(route -> camelContext.getRouteController().getRouteStatus(route.getRouteId()) != ServiceStatus.Started)
                .count();
        boolean brokerUp = brokerUp();
        boolean up = camelUp && routesDown == 0 && brokerUp;

        Map<String, Object> tiers = new LinkedHashMap<>();
        properties.tiers().forEach((name, tier) -> {
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("provider", tier.provider().name().toLowerCase());
            detail.put("model", tier.model());
            detail.put("concurrency", tier.concurrency());
            detail.put("waiting", TierLine.waiting(camelContext, name));
            detail.put("max_waiting", tier.maxWaiting());
            detail.put("rest_waiting", restLine.waiting(name));
            tiers.put(name, detail);
        });
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", up ? "UP" : "DOWN");
        body.put("camel", camelContext.getStatus().name());
        body.put("routes_not_started", routesDown);
        body.put("rabbitmq", brokerUp ? "UP" : "DOWN");
        body.put("tiers", tiers);
        // the optional intakes (pull queue, MongoDB) that are configured: shown, not part of UP/DOWN
        intakes.orderedStream().filter(IntakeStatus::enabled).forEach(intake -> body.put(intake.name(), intake.status()));
        exchange.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, up ? 200 : 503);
        return mapper.writeValueAsString(body);
    }

    private boolean brokerUp() {
        try (Connection connection = connectionFactory.createConnection()) {
            return connection.isOpen();
        } catch (RuntimeException e) {
            return false;
        }
    }

}
