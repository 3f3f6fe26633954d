package io.dats.worker.metrics;

import java.lang.management.ManagementFactory;

import com.sun.management.OperatingSystemMXBean;
import io.dats.worker.llm.TierSlots;

import org.springframework.stereotype.Component;

/**
 * The machine figures the seed clients ask for ({@code /metrics} now; {@code cpu_percent}, {@code memory_percent}
 * and {@code active_tasks} are here for {@code /health} to use): CPU cores, memory, CPU load and the LLM calls in
 * flight.
 */
@Component
public class WorkerResources {

    private static final double GB = 1024.0 * 1024 * 1024;

    private final TierSlots slots;
    private final OperatingSystemMXBean os;

    WorkerResources(TierSlots slots) {
        this.slots = slots;
        this.os = ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
    }

    public int cpuCores() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** Physical memory of the machine (or the container's limit), in GB, one decimal. */
    public double memoryTotalGb() {
        return Math.round(os.getTotalMemorySize() / GB * 10) / 10.0;
    }

    /** The machine's recent CPU load, 0–100, one decimal; 0 when the JVM cannot tell yet. */
    public double cpuPercent() {
        double load = os.getCpuLoad();
        return load < 0 ? 0.0 : Math.round(load * 1000) / 10.0;
    }

    /** Memory in use on the machine, 0–100, one decimal. */
    public double memoryPercent() {
        long total = os.getTotalMemorySize();
        return total <= 0 ? 0.0 : Math.round((total - os.getFreeMemorySize()) * 1000.0 / total) / 10.0;
    }

    /** LLM calls in flight (tasks and infer calls, every tier). */
    public int activeTasks() {
        return slots.inFlight();
    }

    /** Seconds since the JVM started. */
    public long uptimeSeconds() {
        return ManagementFactory.getRuntimeMXBean().getUptime() / 1000;
    }
}
