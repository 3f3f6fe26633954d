package io.dats.worker.llm;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.dats.worker.config.TestWorkerProperties;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class TierSlotsTest {

    private final TierSlots slots = new TierSlots(TestWorkerProperties.defaults());

    @Test
    void aTierHasAsManySlotsAsItsConcurrencyAndAWaitingCallerGetsTheNextFreeOne() throws Exception {
        TierSlots.Slot first = slots.acquire("large");
        TierSlots.Slot second = slots.acquire("large");
        assertThat(slots.inFlight("large")).isEqualTo(2);
        CompletableFuture<TierSlots.Slot> third = CompletableFuture.supplyAsync(() -> {
            try {
                return slots.acquire("large");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().until(() -> slots.waiting("large") == 1);
        assertThat(third).isNotDone();
        assertThat(slots.acquire("small")).as("other tiers are not affected").isNotNull();

        first.close();
        first.close();
        TierSlots.Slot got = third.get(5, TimeUnit.SECONDS);
        assertThat(slots.inFlight("large")).as("closing twice gives back one slot").isEqualTo(2);
        assertThat(slots.inFlight()).isEqualTo(3);
        second.close();
        got.close();
        assertThat(slots.inFlight("large")).isZero();
        assertThat(slots.waiting("large")).isZero();
    }
}
