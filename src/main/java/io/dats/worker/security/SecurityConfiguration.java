package io.dats.worker.security;

import java.util.Locale;

import jakarta.servlet.http.HttpServletRequest;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.csrf.CookieCsrfTokenRepository;
import org.springframework.security.web.csrf.CsrfTokenRequestAttributeHandler;

/**
 * The task API ({@code /api/v1/**}), the embedded RAG service's context endpoint ({@code /rag/api/v1/context}, which
 * the worker itself calls) and {@code /health} are open to the worker's clients; everything else (the RAG ingest and
 * status endpoints, actuator, Jolokia at /actuator/jolokia, Hawtio at /actuator/hawtio) needs an authenticated user
 * with role ADMIN, and so do the operator endpoints under the task API ({@code /api/v1/admin/**}: dead-letter list and
 * replay), which are matched before the open {@code /api/v1/**} and are CSRF-exempt only for JSON calls. The RAG
 * ingest endpoint takes only JSON, which a cross-site form cannot send without a CORS preflight (none is allowed), so
 * it needs no CSRF token: {@code curl -u} works as documented.
 * The user comes from the environment ({@code SPRING_SECURITY_USER_NAME}/{@code SPRING_SECURITY_USER_PASSWORD});
 * without it Spring Boot generates a password at start and logs it.
 */
@Configuration(proxyBeanMethods = false)
class SecurityConfiguration {

    static final String RAG_CONTEXT = "/rag/api/v1/context";
    static final String RAG_INGEST = "/rag/api/v1/ingest";
    /** Operator endpoints under the open task API (dead-letter list and replay): ADMIN only. */
    static final String ADMIN_API = "/api/v1/admin/";

    static boolean isJsonRagIngest(HttpServletRequest request) {
        String contentType = request.getContentType();
        return RAG_INGEST.equals(request.getRequestURI()) && contentType != null
                && contentType.toLowerCase(Locale.ROOT).startsWith("application/json");
    }

    /** The task API without its admin paths: open, and exempt from CSRF (it holds no session state). */
    static boolean isOpenApiCall(HttpServletRequest request) {
        String uri = request.getRequestURI();
        return uri.startsWith("/api/v1/") && !uri.startsWith(ADMIN_API);
    }

    /** An admin call sending JSON (what the dead-letter command sends): needs no CSRF token, a cross-site form cannot send it. */
    static boolean isJsonAdminCall(HttpServletRequest request) {
        String contentType = request.getContentType();
        return request.getRequestURI().startsWith(ADMIN_API) && contentType != null
                && contentType.toLowerCase(Locale.ROOT).startsWith("application/json");
    }

    @Bean
    SecurityFilterChain workerSecurity(HttpSecurity http) throws Exception {
        http.authorizeHttpRequests(requests -> requests
                        .requestMatchers(ADMIN_API + "**").hasRole("ADMIN")
                        .requestMatchers("/health", "/api/v1/**", RAG_CONTEXT, "/error").permitAll()
                        .anyRequest().hasRole("ADMIN"))
                // Hawtio's browser client sends the XSRF-TOKEN cookie back as X-XSRF-TOKEN on its Jolokia POSTs
                .csrf(csrf -> csrf.ignoringRequestMatchers(RAG_CONTEXT)
                        .ignoringRequestMatchers(SecurityConfiguration::isOpenApiCall)
                        .ignoringRequestMatchers(SecurityConfiguration::isJsonAdminCall)
                        .ignoringRequestMatchers(SecurityConfiguration::isJsonRagIngest)
                        .csrfTokenRepository(CookieCsrfTokenRepository.withHttpOnlyFalse())
                        .csrfTokenRequestHandler(new CsrfTokenRequestAttributeHandler()))
                .httpBasic(Customizer.withDefaults())
                .formLogin(Customizer.withDefaults());
        return http.build();
    }
}
