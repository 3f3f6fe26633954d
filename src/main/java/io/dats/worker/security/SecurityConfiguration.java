package io.dats.worker.security;

import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.ObjectPostProcessor;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.observation.SecurityObservationSettings;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.csrf.CookieCsrfTokenRepository;
import org.springframework.security.web.csrf.CsrfFilter;
import org.springframework.security.web.csrf.CsrfToken;
import org.springframework.security.web.csrf.CsrfTokenRequestAttributeHandler;
import org.springframework.security.web.csrf.CsrfTokenRequestHandler;
import org.springframework.security.web.csrf.XorCsrfTokenRequestAttributeHandler;
import org.springframework.security.web.header.HeaderWriterFilter;
import org.springframework.security.web.util.matcher.OrRequestMatcher;
import org.springframework.util.StringUtils;
import org.springframework.web.cors.CorsConfiguration;

/**
 * The task API ({@code /api/v1/**}), the embedded RAG service's context endpoint ({@code /rag/api/v1/context}, which
 * the worker itself calls), {@code /health} and the seed clients' {@code /info}, {@code /metrics} and {@code /v1/infer}
 * (JSON only, no CSRF token) are open to the worker's clients, and so are the liveness and readiness probes
 * ({@link #PROBES}, status only); everything else (the RAG ingest and
 * status endpoints, actuator, Jolokia at /actuator/jolokia, Hawtio at /actuator/hawtio) needs an authenticated user
 * with role ADMIN, and so do the operator endpoints under the task API ({@code /api/v1/admin/**}: dead-letter list and
 * replay), which are matched before the open {@code /api/v1/**} and are CSRF-exempt only for JSON calls. The RAG
 * ingest endpoint takes only JSON, which a cross-site form cannot send without a CORS preflight (none is allowed), so
 * it needs no CSRF token: {@code curl -u} works as documented.
 * The user comes from the environment ({@code SPRING_SECURITY_USER_NAME}/{@code SPRING_SECURITY_USER_PASSWORD});
 * without it Spring Boot generates a password at start and logs it.
 *
 * <p>CSRF protection stays on for every state-changing call outside {@code /api/v1/**}. Hawtio is a single-page
 * application: its client reads the {@code XSRF-TOKEN} cookie and sends it back as {@code X-XSRF-TOKEN} on every
 * Jolokia call (all of them POSTs). The token is therefore kept in a cookie readable by the page and (re)issued on
 * every response that passes the CSRF filter, including the redirect after the form login, which replaces the
 * token. Without that, the login deleted the cookie, no page set it again, every Jolokia POST got 403 and Hawtio
 * logged itself out.
 *
 * <p>Jolokia also accepts its requests as GETs ({@code /actuator/jolokia/exec/<mbean>/<operation>}), which CSRF
 * protection does not cover by default and which a browser sends with the session cookie on a top-level
 * navigation from any site. So a GET on Jolokia needs the token too unless it is a read-only request
 * ({@code read}, {@code list}, {@code search}, {@code version}); what Jolokia may do at all is limited by
 * {@code jolokia-access.xml}. Cross-origin calls to the actuator are refused.
 */
@Configuration(proxyBeanMethods = false)
class SecurityConfiguration {

    static final String RAG_CONTEXT = "/rag/api/v1/context";
    static final String RAG_INGEST = "/rag/api/v1/ingest";
    /** Operator endpoints under the open task API (dead-letter list and replay): ADMIN only. */
    static final String ADMIN_API = "/api/v1/admin/";
    static final String INFER = "/v1/infer";
    /**
     * The liveness and readiness probes at actuator's paths and on the main port: open, as kubelet sends no
     * credentials; without them they answer only {@code {"status":"UP"}} or 503 ({@code DOWN}, {@code OUT_OF_SERVICE})
     * ({@code management.endpoint.health.show-details: when-authorized}).
     */
    static final List<String> PROBES = List.of("/actuator/health/liveness", "/actuator/health/readiness", "/livez", "/readyz");

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

    /**
     * Open endpoints programs call besides the task API and the probes: health, the seed 001/002 contracts (worker
     * identity, inference, the metrics summary) and the RAG context the worker calls itself.
     */
    static final List<String> MACHINE_PATHS = List.of("/health", "/info", "/metrics", INFER, RAG_CONTEXT);

    /**
     * The endpoints programs call (task API without its admin paths, {@link #MACHINE_PATHS}, the {@link #PROBES}):
     * open to anyone, and given no XSRF-TOKEN cookie.
     */
    static boolean isMachineEndpoint(HttpServletRequest request) {
        String uri = request.getRequestURI();
        return isOpenApiCall(request) || MACHINE_PATHS.contains(uri) || PROBES.contains(uri);
    }

    /** An admin call sending JSON (what the dead-letter command sends): needs no CSRF token, a cross-site form cannot send it. */
    static boolean isJsonAdminCall(HttpServletRequest request) {
        String contentType = request.getContentType();
        return request.getRequestURI().startsWith(ADMIN_API) && contentType != null
                && contentType.toLowerCase(Locale.ROOT).startsWith("application/json");
    }

    /**
     * Security headers are written before the request runs, not when its response is committed or while the container
     * thread leaves the filter chain (the default). A REST route answers from a thread of its own (camel-platform-http
     * runs it on an executor), and with the default both threads can write headers to one response at once
     * (spring-security#9175, #15510; fixed in Spring Security 7): Tomcat's header array is corrupted, which showed as
     * {@code NullPointerException}s in {@code MimeHeaders.recycle} under a REST overload in the benchmark.
     */
    static final ObjectPostProcessor<HeaderWriterFilter> EAGER_HEADERS = new ObjectPostProcessor<>() {
        @Override
        public <O extends HeaderWriterFilter> O postProcess(O filter) {
            filter.setShouldWriteHeadersEagerly(true);
            return filter;
        }
    };

    /**
     * No observations of Spring Security's own (each filter of the chain, each authorization and authentication
     * wrapped in one: about a dozen timers started and stopped per request, a fifth of a REST call's container-thread
     * CPU in the benchmark's profile). Requests keep their {@code http.server.requests} metrics.
     */
    @Bean
    static SecurityObservationSettings securityObservationSettings() {
        return SecurityObservationSettings.noObservations();
    }

    @Bean
    SecurityFilterChain workerSecurity(HttpSecurity http) throws Exception {
        http.authorizeHttpRequests(requests -> requests
                        .requestMatchers(ADMIN_API + "**").hasRole("ADMIN")
                        .requestMatchers("/api/v1/**", "/error").permitAll()
                        .requestMatchers(MACHINE_PATHS.toArray(String[]::new)).permitAll()
                        // the probes (kubelet sends no credentials): status only, details need the admin user
                        .requestMatchers(PROBES.toArray(String[]::new)).permitAll()
                        .anyRequest().hasRole("ADMIN"))
                .csrf(csrf -> csrf.ignoringRequestMatchers(RAG_CONTEXT, INFER)
                        .ignoringRequestMatchers(SecurityConfiguration::isOpenApiCall)
                        .ignoringRequestMatchers(SecurityConfiguration::isJsonAdminCall)
                        .ignoringRequestMatchers(SecurityConfiguration::isJsonRagIngest)
                        .csrfTokenRepository(CookieCsrfTokenRepository.withHttpOnlyFalse())
                        .csrfTokenRequestHandler(new SpaCsrfTokenRequestHandler())
                        .requireCsrfProtectionMatcher(new OrRequestMatcher(CsrfFilter.DEFAULT_CSRF_MATCHER,
                                SecurityConfiguration::isJolokiaGetThatIsNotARead)))
                .cors(cors -> cors.configurationSource(SecurityConfiguration::actuatorCors))
                .headers(headers -> headers.withObjectPostProcessor(EAGER_HEADERS))
                .httpBasic(Customizer.withDefaults())
                .formLogin(Customizer.withDefaults());
        return http.build();
    }

    /** Jolokia's servlet, and Hawtio's path that forwards to it (the forward does not pass the CSRF filter again). */
    static final List<String> JOLOKIA_PATHS = List.of("/actuator/jolokia", "/actuator/hawtio/jolokia");
    private static final Pattern JOLOKIA_READ_ONLY = Pattern.compile("/?|/(read|list|search|version)(/.*)?");

    /** A GET or HEAD on Jolokia that is not a read-only request (or names its request in the {@code p} parameter). */
    static boolean isJolokiaGetThatIsNotARead(HttpServletRequest request) {
        if (!"GET".equals(request.getMethod()) && !"HEAD".equals(request.getMethod())) {
            return false;
        }
        String path = path(request);
        for (String jolokia : JOLOKIA_PATHS) {
            if (path.equals(jolokia) || path.startsWith(jolokia + "/")) {
                return request.getParameter("p") != null
                        || !JOLOKIA_READ_ONLY.matcher(path.substring(jolokia.length())).matches();
            }
        }
        return false;
    }

    /**
     * No cross-origin calls to the actuator: Hawtio calls Jolokia from its own origin, and Jolokia would otherwise
     * answer any origin with {@code Access-Control-Allow-Credentials: true}. Other paths keep no CORS handling.
     */
    static CorsConfiguration actuatorCors(HttpServletRequest request) {
        return path(request).startsWith("/actuator/") ? new CorsConfiguration() : null;
    }

    private static String path(HttpServletRequest request) {
        return request.getServletPath() + (request.getPathInfo() == null ? "" : request.getPathInfo());
    }

    /**
     * Spring Security 6's request handler for single-page applications: the token a page renders (the login form's
     * hidden {@code _csrf} field) is XOR-masked against BREACH, a token sent in the {@code X-XSRF-TOKEN} header is the
     * raw cookie value (what Hawtio's client sends), and the deferred token is loaded on every request so that the
     * repository writes the cookie whenever it is missing or was just replaced by the login.
     */
    static final class SpaCsrfTokenRequestHandler implements CsrfTokenRequestHandler {

        private final CsrfTokenRequestHandler plain = new CsrfTokenRequestAttributeHandler();
        private final CsrfTokenRequestHandler xor = new XorCsrfTokenRequestAttributeHandler();

        @Override
        public void handle(HttpServletRequest request, HttpServletResponse response, Supplier<CsrfToken> csrfToken) {
            xor.handle(request, response, csrfToken);
            // load the deferred token: a new one is generated and written as the XSRF-TOKEN cookie when absent; not
            // for the machine endpoints, which need no token (a fresh random token and a Set-Cookie on every task call
            // and health probe, since their clients keep no cookies)
            if (!isMachineEndpoint(request)) {
                csrfToken.get();
            }
        }

        @Override
        public String resolveCsrfTokenValue(HttpServletRequest request, CsrfToken csrfToken) {
            String header = request.getHeader(csrfToken.getHeaderName());
            return (StringUtils.hasText(header) ? plain : xor).resolveCsrfTokenValue(request, csrfToken);
        }
    }
}
