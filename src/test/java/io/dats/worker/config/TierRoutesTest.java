package io.dats.worker.config;

import io.dats.worker.priority.Priority;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TierRoutesTest {

    @Test
    void everyTierHasAnIntakePerPriorityLane() {
        assertThat(TierRoutes.intakeRouteId("small", Priority.NORMAL)).isEqualTo("intake-small");
        assertThat(TierRoutes.intakeRouteId("small", Priority.CRITICAL)).isEqualTo("intake-small-critical");
        assertThatCode(() -> TierRoutes.checkIntakeIds(TestWorkerProperties.defaults())).doesNotThrowAnyException();
    }

    @Test
    void aTierNamedLikeAnotherTiersLaneIsRefused() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        WorkerProperties clash = TestWorkerProperties.withTier(defaults, "small-high", defaults.tier("small"));
        assertThatThrownBy(() -> TierRoutes.checkIntakeIds(clash)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("intake-small-high");
    }
}
