package io.dats.worker.api;

import java.util.Map;

import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.http.HttpServletRequest;
import io.dats.worker.config.WorkerProperties;

import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.web.servlet.error.ErrorController;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The servlet side of the REST API: the request filter in front of every REST route, and the error page that
 * answers what reaches no route (unknown path 404, wrong method 405, unacceptable Accept 406, container errors) in
 * the one JSON shape {@code {"error", "detail", "task_id"}} instead of Spring Boot's default error body.
 */
@Configuration(proxyBeanMethods = false)
class ApiWebConfiguration {

    @Bean
    FilterRegistrationBean<ApiRequestFilter> apiRequestFilter(WorkerProperties properties, ApiKeys apiKeys) {
        FilterRegistrationBean<ApiRequestFilter> registration =
                new FilterRegistrationBean<>(new ApiRequestFilter(properties, apiKeys));
        registration.addUrlPatterns("/api/*", "/health");
        // before Spring Security and Spring MVC
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE + 20);
        return registration;
    }

    /** Replaces Spring Boot's BasicErrorController (it is conditional on no other ErrorController). */
    @RestController
    static class JsonErrorController implements ErrorController {

        @RequestMapping(path = "${server.error.path:/error}")
        ResponseEntity<Map<String, Object>> error(HttpServletRequest request) {
            Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
            int status = code instanceof Integer value ? value : 500;
            String path = String.valueOf(request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI));
            String detail = switch (status) {
                case 404 -> "no endpoint at " + path + " (see /api/v1/openapi.json)";
                case 405 -> "this method is not allowed on " + path + " (see /api/v1/openapi.json)";
                case 406 -> "the endpoint " + path + " answers application/json only";
                case 415 -> "application/json is expected";
                case 413 -> "the body is too large (worker.api.max-body-size)";
                default -> {
                    Object message = request.getAttribute(RequestDispatcher.ERROR_MESSAGE);
                    yield message == null || String.valueOf(message).isBlank()
                            ? "the request failed with HTTP " + status : String.valueOf(message);
                }
            };
            return ResponseEntity.status(status).contentType(MediaType.APPLICATION_JSON)
                    .body(ApiErrors.body(ApiErrors.code(status), detail, null));
        }
    }
}
