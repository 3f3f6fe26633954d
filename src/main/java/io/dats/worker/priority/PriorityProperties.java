package io.dats.worker.priority;

import java.time.Duration;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/**
 * Priority settings ({@code worker.priority.*}): {@code step} is how much earlier a task of one priority level lower
 * may have joined a tier's line and still be passed by it (README "Priority").
 */
@ConfigurationProperties("worker.priority")
public record PriorityProperties(@DefaultValue("60s") Duration step) {
}
