package io.dats.worker.task;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * Turns a schema-valid request body into a {@link Task} and settles its tier: the queue's tier for queued tasks,
 * otherwise the body's tier, otherwise the domain's default tier.
 */
@Component("taskReader")
public class TaskReader {

    private final ObjectMapper mapper;
    private final WorkerProperties properties;

    TaskReader(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.properties = properties;
    }

    public Task read(Exchange exchange) throws Exception {
        Task task = mapper.readValue(exchange.getMessage().getMandatoryBody(String.class), Task.class);
        WorkerProperties.Domain domain = properties.domains().get(task.domain());
        if (domain == null) {
            throw new TaskValidationException("unknown domain '" + task.domain() + "', expected one of "
                    + properties.domains().keySet());
        }
        String tier = exchange.getVariable(TaskVariables.TIER, String.class);
        if (tier == null) {
            tier = task.tier() != null ? task.tier() : domain.defaultTier();
        }
        if (!properties.tiers().containsKey(tier)) {
            throw new TaskValidationException("unknown tier '" + tier + "', expected one of "
                    + properties.tiers().keySet());
        }
        Task settled = task.withTier(tier);
        exchange.setVariable(TaskVariables.TASK, settled);
        exchange.setVariable(TaskVariables.TASK_ID, settled.taskId());
        exchange.setVariable(TaskVariables.DOMAIN, settled.domain());
        exchange.setVariable(TaskVariables.TIER, tier);
        return settled;
    }
}
