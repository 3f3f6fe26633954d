package io.dats.worker.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.InitializingBean;
import org.springframework.stereotype.Component;

/**
 * Refuses to start when a tier's worst case (max-attempts x timeout + backoff delays) comes near the broker's
 * consumer timeout: the broker would close the channel and redeliver a task that is still being worked on.
 */
@Component
class DeliveryBudgetCheck implements InitializingBean {

    /** Share of the consumer timeout one task may use at worst. */
    static final double BUDGET_SHARE = 0.75;

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryBudgetCheck.class);

    private final WorkerProperties properties;

    DeliveryBudgetCheck(WorkerProperties properties) {
        this.properties = properties;
    }

    @Override
    public void afterPropertiesSet() {
        List<String> problems = violations(properties);
        if (!problems.isEmpty()) {
            throw new IllegalStateException(String.join("; ", problems));
        }
    }

    static Duration worstCase(WorkerProperties properties, WorkerProperties.Tier tier) {
        return tier.timeout().multipliedBy(tier.maxAttempts())
                .plus(properties.retry().totalDelay(tier.maxAttempts()))
                .plus(properties.rag().timeout());
    }

    static List<String> violations(WorkerProperties properties) {
        Duration consumerTimeout = properties.broker().consumerTimeout();
        Duration budget = Duration.ofMillis((long) (consumerTimeout.toMillis() * BUDGET_SHARE));
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, WorkerProperties.Tier> entry : properties.tiers().entrySet()) {
            Duration worst = worstCase(properties, entry.getValue());
            LOG.info("Tier {}: worst case per task {} s (budget {} s of the broker's {} s consumer timeout)",
                    entry.getKey(), worst.toSeconds(), budget.toSeconds(), consumerTimeout.toSeconds());
            if (worst.compareTo(budget) > 0) {
                problems.add("tier " + entry.getKey() + ": max-attempts x timeout + backoff + rag timeout = "
                        + worst.toSeconds() + " s exceeds " + (int) (BUDGET_SHARE * 100) + "% of the broker consumer timeout ("
                        + consumerTimeout.toSeconds() + " s, worker.broker.consumer-timeout); lower "
                        + "worker.tiers." + entry.getKey() + ".max-attempts or .timeout");
            }
        }
        return problems;
    }
}
