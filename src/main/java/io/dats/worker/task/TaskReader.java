package io.dats.worker.task;

import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.WorkerProperties;
import org.apache.camel.Exchange;

import org.springframework.stereotype.Component;

/**
 * Turns a schema-valid request body into a {@link Task}, checks its domain, tier and images against the
 * configuration (the schema checks only their shape) and settles its tier: the queue's tier for queued tasks,
 * otherwise the body's tier, otherwise the domain's default tier. Everything refused here fails before any LLM call.
 */
@Component("taskReader")
public class TaskReader {

    /** The image forms a task may carry; the worker fetches no URL. */
    static final Pattern DATA_URI = Pattern.compile("^data:(image/(?:png|jpeg|webp|gif));base64,(.*)$", Pattern.DOTALL);

    private final ObjectMapper mapper;
    private final WorkerProperties properties;

    TaskReader(ObjectMapper mapper, WorkerProperties properties) {
        this.mapper = mapper;
        this.properties = properties;
    }

    public Task read(Exchange exchange) throws Exception {
        Task task = mapper.readValue(exchange.getMessage().getMandatoryBody(String.class), Task.class);
        // the task id first, so that every refusal below names it
        exchange.setVariable(TaskVariables.TASK_ID, task.taskId());
        WorkerProperties.Domain domain = properties.domains().get(task.domain());
        if (domain == null) {
            throw new TaskValidationException("unknown domain '" + task.domain() + "', expected one of "
                    + properties.domains().keySet());
        }
        if (task.tier() != null && !properties.tiers().containsKey(task.tier())) {
            throw new TaskValidationException("unknown tier '" + task.tier() + "', expected one of "
                    + properties.tiers().keySet());
        }
        // a queued task runs on its queue's tier, whatever the body says
        String tier = exchange.getVariable(TaskVariables.TIER, String.class);
        if (tier == null) {
            tier = task.tier() != null ? task.tier() : domain.defaultTier();
        }
        if (!properties.tiers().containsKey(tier)) {
            throw new TaskValidationException("unknown tier '" + tier + "', expected one of "
                    + properties.tiers().keySet());
        }
        checkImages(task.images(), tier);
        Task settled = task.withTier(tier);
        exchange.setVariable(TaskVariables.TASK, settled);
        exchange.setVariable(TaskVariables.DOMAIN, settled.domain());
        exchange.setVariable(TaskVariables.TIER, tier);
        exchange.setVariable(TaskVariables.KIND, domain.kind().id());
        exchange.setVariable(TaskVariables.TEMPLATE, properties.templateOf(settled.domain()));
        return settled;
    }

    private void checkImages(List<String> images, String tier) {
        if (images.isEmpty()) {
            return;
        }
        WorkerProperties.Images limits = properties.images();
        if (!properties.tier(tier).vision()) {
            throw new TaskValidationException("the task carries " + images.size() + " image(s) but tier '" + tier
                    + "' has no vision model (worker.tiers." + tier + ".vision is false); send it to a tier with "
                    + "vision: true or without images");
        }
        if (images.size() > limits.maxCount()) {
            throw new TaskValidationException("the task carries " + images.size() + " images; at most "
                    + limits.maxCount() + " are accepted (worker.images.max-count)");
        }
        for (int i = 0; i < images.size(); i++) {
            decode(images.get(i), i, limits.maxBytes());
        }
    }

    /** The decoded bytes of image {@code index}; refuses anything but a base64 PNG/JPEG/WebP/GIF data URI. */
    static byte[] decode(String image, int index, long maxBytes) {
        Matcher matcher = DATA_URI.matcher(image == null ? "" : image);
        if (!matcher.matches()) {
            throw new TaskValidationException("images[" + index + "] is not a data:image/png|jpeg|webp|gif;base64,... "
                    + "URI (URLs are not fetched)");
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(base64Of(matcher.group(2)));
        } catch (IllegalArgumentException e) {
            throw new TaskValidationException("images[" + index + "] is not valid base64: " + e.getMessage());
        }
        if (bytes.length == 0) {
            throw new TaskValidationException("images[" + index + "] is empty");
        }
        if (bytes.length > maxBytes) {
            throw new TaskValidationException("images[" + index + "] has " + bytes.length + " bytes; at most " + maxBytes
                    + " are accepted (worker.images.max-bytes)");
        }
        return bytes;
    }

    /** The data URI's payload without the line breaks some encoders insert. */
    static String base64Of(String payload) {
        return payload.indexOf('\n') < 0 && payload.indexOf('\r') < 0 && payload.indexOf(' ') < 0
                ? payload : payload.replaceAll("\\s+", "");
    }

    /** The media type of a data URI that {@link #decode} accepted. */
    static String mediaType(String image) {
        Matcher matcher = DATA_URI.matcher(image);
        if (!matcher.matches()) {
            throw new IllegalArgumentException("not an image data URI");
        }
        return matcher.group(1);
    }
}
