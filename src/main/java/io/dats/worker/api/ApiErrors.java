package io.dats.worker.api;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.http.HttpServletResponse;

/** The one error shape of the REST API, {@code {"error", "detail", "task_id"}}, for answers made outside Camel. */
final class ApiErrors {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private ApiErrors() {
    }

    static Map<String, Object> body(String error, String detail, String taskId) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("detail", detail);
        body.put("task_id", taskId);
        return body;
    }

    static void write(HttpServletResponse response, int status, String error, String detail) throws IOException {
        response.resetBuffer();
        response.setStatus(status);
        response.setContentType("application/json");
        response.setCharacterEncoding("UTF-8");
        response.getOutputStream().write(MAPPER.writeValueAsBytes(body(error, detail, null)));
        response.flushBuffer();
    }

    /** The error code of an HTTP status answered without a more specific one. */
    static String code(int status) {
        return switch (status) {
            case 400 -> "invalid_task";
            case 401 -> "unauthorized";
            case 403 -> "forbidden";
            case 404 -> "not_found";
            case 405 -> "method_not_allowed";
            case 406 -> "not_acceptable";
            case 413 -> "payload_too_large";
            case 415 -> "unsupported_media_type";
            case 429 -> "tier_busy";
            case 503 -> "unavailable";
            default -> status >= 500 ? "internal_error" : "bad_request";
        };
    }
}
