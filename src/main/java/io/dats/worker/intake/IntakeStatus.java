package io.dats.worker.intake;

import java.util.Map;

/** An intake's state for {@code /health}: reported under its name when the intake is configured. */
public interface IntakeStatus {

    /** The key of the intake in the health report. */
    String name();

    boolean enabled();

    Map<String, Object> status();
}
