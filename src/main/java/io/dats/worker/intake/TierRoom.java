package io.dats.worker.intake;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.TierLine;
import org.apache.camel.CamelContext;

import org.springframework.stereotype.Component;

/**
 * How full a tier's bound is, for the intakes that choose when to take work (pull queue, MongoDB): a tier's load is
 * the LLM calls in flight in its route {@code llm-<tier>} (Camel's in-flight registry counts the exchanges inside a
 * route) plus the callers waiting in its line {@code seda:llm-<tier>} (routes/llm-calls.camel.yaml), whatever intake
 * they came from. A tier has room while its load is below its {@code concurrency}. Nothing is counted by hand, so
 * nothing can drift.
 */
@Component("tierRoom")
public class TierRoom {

    static final long CHECK_EVERY_MILLIS = 50;

    private final CamelContext camelContext;
    private final WorkerProperties properties;

    TierRoom(CamelContext camelContext, WorkerProperties properties) {
        this.camelContext = camelContext;
        this.properties = properties;
    }

    /** LLM calls in flight plus callers waiting for the tier's line. */
    public int load(String tier) {
        return camelContext.getInflightRepository().size("llm-" + tier) + TierLine.waiting(camelContext, tier);
    }

    public boolean hasRoom(String tier) {
        return load(tier) < properties.tier(tier).concurrency();
    }

    /** The load of every tier, for logs and health. */
    public Map<String, Integer> loads() {
        Map<String, Integer> loads = new TreeMap<>();
        properties.tiers().keySet().forEach(tier -> loads.put(tier, load(tier)));
        return loads;
    }

    /**
     * Waits until each of the tiers (every configured tier when empty) has room. Returns false, without waiting
     * further, when Camel is stopping or the thread is interrupted.
     */
    public boolean awaitRoom(Collection<String> tiers) {
        Collection<String> checked = tiers.isEmpty() ? properties.tiers().keySet() : tiers;
        while (!checked.stream().allMatch(this::hasRoom)) {
            if (camelContext.isStopping() || camelContext.isStopped()) {
                return false;
            }
            try {
                Thread.sleep(CHECK_EVERY_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

}
