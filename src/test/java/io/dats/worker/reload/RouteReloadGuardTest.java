package io.dats.worker.reload;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class RouteReloadGuardTest {

    @Test
    void reportsAnErrorAndItsCausesOnOneLine() {
        Exception error = new IllegalStateException("Error pre-parsing resource: file:routes/a.camel.yaml.",
                new RuntimeException("mapping values are not allowed here\n in reader, line 8, column 12:\n    steps: [\n    ^\n"));
        assertThat(RouteReloadGuard.oneLine(error))
                .isEqualTo("Error pre-parsing resource: file:routes/a.camel.yaml: mapping values are not allowed here "
                        + "in reader, line 8, column 12: steps: [ ^");
    }

    @Test
    void leavesOutACauseItsWrapperAlreadyQuotes() {
        Exception error = new RuntimeException("Failed to start route x because of: No bean noSuchBean",
                new IllegalArgumentException("No bean noSuchBean"));
        assertThat(RouteReloadGuard.oneLine(error)).isEqualTo("Failed to start route x because of: No bean noSuchBean");
    }

    @Test
    void cutsAVeryLongError() {
        assertThat(RouteReloadGuard.oneLine(new RuntimeException("x".repeat(1000)))).hasSize(401).endsWith("…");
    }

    @Test
    void namesAnErrorWithoutMessageByItsType() {
        assertThat(RouteReloadGuard.oneLine(new NullPointerException())).isEqualTo("NullPointerException");
    }
}
