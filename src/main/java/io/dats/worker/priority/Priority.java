package io.dats.worker.priority;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A task's priority ({@code POST /api/v1/tasks}'s {@code priority}, seed 002): which lane of its tier it is queued on
 * and where it stands in the tier's line inside the worker. {@code normal} is the tier's own queue
 * {@code worker-service.<tier>} (routing key {@code task.ready.<tier>}, what producers publish to); each other
 * priority has a lane {@code worker-service.<tier>.<priority>} bound with {@code task.ready.<tier>.<priority>}.
 */
public enum Priority {
    LOW(0), NORMAL(1), HIGH(2), CRITICAL(3);

    private final int level;

    Priority(int level) {
        this.level = level;
    }

    /** 0 (low) to 3 (critical). */
    public int level() {
        return level;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The suffix of the tier's queue and routing key for this lane: none for normal. */
    /** The route taking this lane of a tier in: {@code intake-<tier>}, or {@code intake-<tier>-<priority>}. */
    public String intakeRouteId(String tier) {
        return "intake-" + tier + (this == NORMAL ? "" : "-" + id());
    }

    public String laneSuffix() {
        return this == NORMAL ? "" : "." + id();
    }

    /** The names a request may use. */
    public static List<String> ids() {
        return Arrays.stream(values()).map(Priority::id).toList();
    }

    /** The priority named {@code value} (absent = normal); anything else is refused. */
    public static Priority of(String value) {
        if (value == null) {
            return NORMAL;
        }
        for (Priority priority : values()) {
            if (priority.id().equals(value)) {
                return priority;
            }
        }
        throw new IllegalArgumentException("priority must be one of " + ids() + ", not '" + value + "'");
    }
}
