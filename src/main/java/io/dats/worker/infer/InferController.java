package io.dats.worker.infer;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.api.ApiAccessException;
import io.dats.worker.api.ApiKeys;
import io.dats.worker.config.WorkerProperties;
import io.dats.worker.llm.LlmFailures;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST /v1/infer} (seed 001). A Spring MVC handler, not a Camel REST route: a platform-http route answers
 * with the exchange's body once the route has ended, so it cannot forward tokens while the model still produces
 * them; this handler writes each token to the servlet response and flushes it as it arrives. One endpoint serves
 * both forms (the body's {@code stream} field chooses), so both live here.
 * <ul>
 * <li>{@code stream} false: 200 {@code {"text", "tokens_generated", "duration_ms", "tier", "model"}}.</li>
 * <li>{@code stream} true: 200 {@code text/event-stream}, {@code data: {"token": "..."}} per token and
 * {@code data: [DONE]}; a failure after the first token ends the stream with
 * {@code event: error} / {@code data: {"error", "detail"}}.</li>
 * <li>400 {@code {"error": "invalid_request", "detail"}} for a bad body; 403 {@code forbidden} when API keys are
 * configured and the key may not use the tier (the task endpoints' {@link ApiKeys} rule); 502 {@code llm_failed} or 504
 * {@code llm_timeout} when the model fails before its first token.</li>
 * </ul>
 * Both forms wait for a slot of the tier ({@link InferService}), like the tier's tasks.
 */
@RestController
class InferController {

    private static final Logger LOG = LoggerFactory.getLogger(InferController.class);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

    private final InferService service;
    private final WorkerProperties properties;
    private final InferProperties inferProperties;
    private final ObjectMapper mapper;
    private final ApiKeys apiKeys;

    InferController(InferService service, WorkerProperties properties, InferProperties inferProperties,
                    ObjectMapper mapper, ApiKeys apiKeys) {
        this.apiKeys = apiKeys;
        this.service = service;
        this.properties = properties;
        this.inferProperties = inferProperties;
        this.mapper = mapper;
    }

    @PostMapping("/v1/infer")
    void infer(@RequestBody(required = false) byte[] body,
               @RequestHeader(name = ApiKeys.HEADER, required = false) String apiKey, HttpServletResponse response)
            throws IOException, InterruptedException {
        InferRequest request;
        try {
            request = InferRequest.read(readJson(body), properties, inferProperties.defaultTier());
        } catch (InferRequest.InvalidInferRequest e) {
            sendJson(response, 400, error("invalid_request", e.getMessage()));
            return;
        }
        try {
            // the task endpoints' rule: a key may use only its tiers (ApiRequestFilter already refused unknown keys)
            apiKeys.authorize(apiKey, request.tier());
        } catch (ApiAccessException refused) {
            sendJson(response, refused.status(), error(refused.error(), refused.getMessage()));
            return;
        }
        if (request.stream()) {
            stream(request, response);
        } else {
            complete(request, response);
        }
    }

    private void complete(InferRequest request, HttpServletResponse response) throws IOException, InterruptedException {
        InferService.Completion completion;
        try {
            completion = service.complete(request);
        } catch (RuntimeException e) {
            modelFailed(request, e, response);
            return;
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("text", completion.text());
        answer.put("tokens_generated", completion.tokensGenerated());
        answer.put("duration_ms", completion.durationMs());
        answer.put("tier", request.tier());
        answer.put("model", completion.model());
        sendJson(response, 200, answer);
    }

    private void stream(InferRequest request, HttpServletResponse response) throws IOException, InterruptedException {
        try (InferService.Stream stream = service.stream(request)) {
            InferService.StreamEvent event = stream.next();
            if (event instanceof InferService.StreamEvent.Failed failed) {
                modelFailed(request, failed.error(), response);
                return;
            }
            response.setStatus(200);
            response.setContentType(MediaType.TEXT_EVENT_STREAM_VALUE);
            response.setCharacterEncoding("UTF-8");
            response.setHeader("Cache-Control", "no-cache");
            // proxies such as nginx buffer responses unless told not to
            response.setHeader("X-Accel-Buffering", "no");
            OutputStream out = response.getOutputStream();
            try {
                while (true) {
                    if (event instanceof InferService.StreamEvent.Token token) {
                        write(out, "data: " + mapper.writeValueAsString(Map.of("token", token.text())) + "\n\n");
                    } else if (event instanceof InferService.StreamEvent.Done) {
                        out.write(DONE);
                        out.flush();
                        return;
                    } else if (event instanceof InferService.StreamEvent.Failed failed) {
                        LOG.warn("Infer stream on tier {} failed after its first token: {}", request.tier(),
                                failed.error().toString());
                        write(out, "event: error\ndata: " + mapper.writeValueAsString(
                                error(kind(failed.error()), String.valueOf(failed.error().getMessage()))) + "\n\n");
                        return;
                    }
                    event = stream.next();
                }
            } catch (IOException e) {
                // the client went away: the model still produces the answer, so its slot stays taken until it ends
                LOG.info("Infer stream on tier {}: the client closed the connection ({})", request.tier(), e.toString());
                stream.drain();
            }
        }
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private void modelFailed(InferRequest request, Throwable failure, HttpServletResponse response) throws IOException {
        String kind = kind(failure);
        LOG.warn("Infer on tier {} failed: {}", request.tier(), failure.toString());
        sendJson(response, "llm_timeout".equals(kind) ? 504 : 502, error(kind,
                "the tier's model (" + request.tier() + ") failed: " + failure.getMessage()));
    }

    private static String kind(Throwable failure) {
        return LlmFailures.isTimeout(failure) ? "llm_timeout" : "llm_failed";
    }

    private JsonNode readJson(byte[] body) {
        if (body == null || body.length == 0) {
            throw new InferRequest.InvalidInferRequest("the body must be a JSON object with a prompt");
        }
        try {
            return mapper.readTree(body);
        } catch (IOException e) {
            throw new InferRequest.InvalidInferRequest("the body is not valid JSON");
        }
    }

    private static Map<String, Object> error(String error, String detail) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("detail", detail);
        return body;
    }

    private void sendJson(HttpServletResponse response, int status, Object body) throws IOException {
        byte[] bytes;
        try {
            bytes = mapper.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        response.setStatus(status);
        response.setContentType(MediaType.APPLICATION_JSON_VALUE);
        response.setContentLength(bytes.length);
        response.getOutputStream().write(bytes);
    }
}
