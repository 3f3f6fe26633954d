package io.dats.worker.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.langchain4j.model.chat.ChatModel;
import io.dats.worker.llm.ChatModelFactory;
import io.dats.worker.llm.ChatModels;
import io.dats.worker.priority.Priority;
import org.apache.camel.CamelContext;
import org.apache.camel.builder.TemplatedRouteBuilder;
import org.apache.camel.processor.errorhandler.RedeliveryPolicy;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Makes the per-tier routes from configuration: for every {@code worker.tiers.<tier>} the route templates
 * {@code tier-intake} (routes/task-intake.camel.yaml) and {@code tier-llm-call} (routes/llm-calls.camel.yaml) become
 * the routes {@code intake-<tier>} and {@code llm-<tier>}, and the tier's chat model is bound as
 * {@code chatModel-<tier>}. Also checks that every domain's template exists, so a missing template fails the start
 * rather than every task of the domain after it was queued.
 */
@Configuration(proxyBeanMethods = false)
class TierRoutes {

    static final String INTAKE_TEMPLATE = "tier-intake";
    static final String LLM_TEMPLATE = "tier-llm-call";

    private static final Logger LOG = LoggerFactory.getLogger(TierRoutes.class);

    /** Backoff between LLM attempts ({@code worker.retry.*}), used by routes/error-handling.camel.yaml. */
    @Bean
    RedeliveryPolicy llmRedeliveryPolicy(WorkerProperties properties) {
        RedeliveryPolicy policy = new RedeliveryPolicy();
        policy.setRedeliveryDelay(properties.retry().initialDelay().toMillis());
        policy.setUseExponentialBackOff(true);
        policy.setBackOffMultiplier(properties.retry().multiplier());
        policy.setMaximumRedeliveryDelay(properties.retry().maxDelay().toMillis());
        // jitter: each delay varies by up to 20% either way, so that the tasks of an outage do not retry in lockstep
        policy.setUseCollisionAvoidance(true);
        policy.setCollisionAvoidanceFactor(0.2);
        // retryWhile (llmRetryPolicy) decides how often: the tier's max-attempts
        policy.setMaximumRedeliveries(-1);
        policy.setRetryAttemptedLogLevel(org.apache.camel.LoggingLevel.WARN);
        policy.setRetriesExhaustedLogLevel(org.apache.camel.LoggingLevel.WARN);
        policy.setLogStackTrace(false);
        policy.setLogContinued(true);
        return policy;
    }

    @Bean
    CamelContextConfiguration tierRoutesFromConfiguration(WorkerProperties properties, ChatModels chatModels) {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                checkTemplates(properties);
                addTierRoutes(camelContext, properties, chatModels);
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }

    static void addTierRoutes(CamelContext camelContext, WorkerProperties properties, ChatModels chatModels) {
        WorkerProperties.Broker broker = properties.broker();
        checkIntakeIds(properties);
        for (Map.Entry<String, WorkerProperties.Tier> entry : properties.tiers().entrySet()) {
            String name = entry.getKey();
            WorkerProperties.Tier tier = entry.getValue();
            ChatModel model = chatModels.byTier().get(name);
            camelContext.getRegistry().bind(ChatModels.beanName(name), ChatModel.class, model);
            // one intake per priority lane (README "Priority"): intake-<tier> for the normal lane, intake-<tier>-<priority>
            for (Priority priority : Priority.values()) {
                TemplatedRouteBuilder.builder(camelContext, INTAKE_TEMPLATE)
                        .routeId(intakeRouteId(name, priority))
                        .parameter("tier", name)
                        .parameter("priority", priority.id())
                        .parameter("queue", broker.queue(name, priority))
                        .parameter("routingKey", broker.readyRoutingKey(name, priority))
                        .parameter("consumers", tier.consumerCount())
                        .add();
            }
            TemplatedRouteBuilder.builder(camelContext, LLM_TEMPLATE)
                    .routeId("llm-" + name)
                    .parameter("tier", name)
                    .parameter("concurrency", tier.concurrency())
                    .parameter("chatModel", ChatModels.beanName(name))
                    .parameter("rateLimited", tier.rateLimited())
                    // the throttle is not reached when the limit is off; it still needs a valid number
                    .parameter("requestsPerMinute", Math.max(1, tier.requestsPerMinute()))
                    .parameter("ratePeriodMillis", tier.ratePeriod().toMillis())
                    .add();
            LOG.info("Routes intake-{} (and its priority lanes) and llm-{}: {}", name, name,
                    ChatModelFactory.describe(name, tier));
        }
    }

    /** {@code intake-<tier>} for the normal lane, {@code intake-<tier>-<priority>} for the others. */
    public static String intakeRouteId(String tier, Priority priority) {
        return priority.intakeRouteId(tier);
    }

    /** A tier named like another tier's lane ({@code small-high} beside {@code small}) would reuse its route id. */
    static void checkIntakeIds(WorkerProperties properties) {
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (String tier : properties.tiers().keySet()) {
            for (Priority priority : Priority.values()) {
                if (!ids.add(intakeRouteId(tier, priority))) {
                    throw new IllegalStateException("worker.tiers." + tier + ": its intake route id "
                            + intakeRouteId(tier, priority) + " is also another tier's priority lane intake; rename the tier");
                }
            }
        }
    }

    static void checkTemplates(WorkerProperties properties) {
        List<String> missing = new ArrayList<>();
        for (String domain : properties.domains().keySet()) {
            Path template = Path.of(properties.templateOf(domain));
            if (!Files.isReadable(template)) {
                missing.add("worker.domains." + domain + ": template " + template.toAbsolutePath() + " is missing");
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException(String.join("; ", missing)
                    + " (a domain needs a Velocity template: templates/<domain>.vm, or set worker.domains.<domain>.template)");
        }
    }
}
