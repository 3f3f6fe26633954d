package io.dats.worker.api;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import io.dats.worker.config.WorkerProperties;

import org.springframework.http.MediaType;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * What every REST request passes before Camel sees it (on the servlet container's thread, before the body is read):
 * <ul>
 * <li>task endpoints ({@code /api/v1/**} except health and the OpenAPI document): the API key when keys are
 * configured (401), a JSON content type on POST (415), the body limit {@code worker.api.max-body-size} (413, from
 * {@code Content-Length} without reading the body, or while reading a chunked body, stopping at the limit);</li>
 * <li>health and the OpenAPI document: any method but GET/HEAD is a JSON 405 (before Spring Security's CSRF check,
 * which would answer a POST with a bare 403);</li>
 * <li>every REST request: inbound {@code Camel*} headers (any letter case) and all query parameters are hidden, so
 * they never become exchange headers (other query parameters, such as {@code GET /api/v1/tasks?status=}, pass).</li>
 * </ul>
 */
class ApiRequestFilter extends OncePerRequestFilter {

    private static final List<String> OPEN_API_PATHS = List.of("/api/v1/health", "/api/v1/openapi.json");
    private static final List<String> READ_METHODS = List.of("GET", "HEAD", "OPTIONS");

    private final WorkerProperties properties;
    private final ApiKeys apiKeys;

    ApiRequestFilter(WorkerProperties properties, ApiKeys apiKeys) {
        this.properties = properties;
        this.apiKeys = apiKeys;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String path = request.getRequestURI().substring(request.getContextPath().length());
        HttpServletRequest sanitized = new SanitizedRequest(request, null);
        if ((path.equals("/health") || OPEN_API_PATHS.contains(path)) && !READ_METHODS.contains(request.getMethod())) {
            // answered here, before Spring Security's CSRF check would turn a POST into a bare 403
            response.setHeader("Allow", "GET, HEAD");
            ApiErrors.write(response, 405, "method_not_allowed", request.getMethod() + " is not allowed on " + path
                    + ": GET is (see /api/v1/openapi.json)");
            return;
        }
        // POST /v1/infer (seed 001) runs the tiers' models like a task: it takes the same API key; the operator
        // endpoints under /api/v1/admin/ are the admin user's (Spring Security: role ADMIN, JSON only)
        if ((!path.startsWith("/api/v1/") && !path.equals("/v1/infer")) || OPEN_API_PATHS.contains(path)
                || path.startsWith("/api/v1/admin/")) {
            chain.doFilter(sanitized, response);
            return;
        }
        if (!apiKeys.known(request.getHeader(ApiKeys.HEADER))) {
            ApiErrors.write(response, 401, "unauthorized", ApiKeys.unauthorizedDetail(request.getHeader(ApiKeys.HEADER)));
            return;
        }
        if (!"POST".equalsIgnoreCase(request.getMethod())) {
            chain.doFilter(sanitized, response);
            return;
        }
        if (!isJson(request.getContentType())) {
            ApiErrors.write(response, 415, "unsupported_media_type", "Content-Type "
                    + (request.getContentType() == null ? "is missing" : "'" + request.getContentType() + "' is not supported")
                    + ": application/json is expected");
            return;
        }
        long limit = properties.api().maxBodySize().toBytes();
        long declared = request.getContentLengthLong();
        if (declared > limit) {
            ApiErrors.write(response, 413, "payload_too_large", tooLarge(declared + " bytes", limit));
            return;
        }
        if (declared < 0) {
            // chunked: read at most limit + 1 bytes here, so an endless body is refused without being read whole
            byte[] body = readAtMost(request.getInputStream(), limit + 1);
            if (body.length > limit) {
                ApiErrors.write(response, 413, "payload_too_large", tooLarge("more than " + limit + " bytes", limit));
                return;
            }
            sanitized = new SanitizedRequest(request, body);
        }
        chain.doFilter(sanitized, response);
    }

    private static String tooLarge(String size, long limit) {
        return "the body has " + size + "; at most " + limit + " bytes are accepted (worker.api.max-body-size)";
    }

    static boolean isJson(String contentType) {
        if (contentType == null) {
            return false;
        }
        try {
            MediaType type = MediaType.parseMediaType(contentType);
            return MediaType.APPLICATION_JSON.equalsTypeAndSubtype(type);
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static byte[] readAtMost(InputStream in, long max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        long total = 0;
        int n;
        while (total < max && (n = in.read(buffer, 0, (int) Math.min(buffer.length, max - total))) > 0) {
            out.write(buffer, 0, n);
            total += n;
        }
        return out.toByteArray();
    }

    /** The request without Camel* headers and Camel* query parameters, optionally with a body already read. */
    static final class SanitizedRequest extends HttpServletRequestWrapper {

        private final byte[] body;

        SanitizedRequest(HttpServletRequest request, byte[] body) {
            super(request);
            this.body = body;
        }

        private static boolean hidden(String name) {
            return name != null && name.toLowerCase(Locale.ROOT).startsWith("camel");
        }

        @Override
        public String getHeader(String name) {
            return hidden(name) ? null : super.getHeader(name);
        }

        @Override
        public Enumeration<String> getHeaders(String name) {
            return hidden(name) ? Collections.emptyEnumeration() : super.getHeaders(name);
        }

        @Override
        public Enumeration<String> getHeaderNames() {
            return Collections.enumeration(Collections.list(super.getHeaderNames()).stream()
                    .filter(name -> !hidden(name)).toList());
        }

        // query parameters reach the routes as headers: Camel* ones (any case, also URL-encoded) never do
        @Override
        public String getQueryString() {
            String query = super.getQueryString();
            if (query == null) {
                return null;
            }
            String kept = java.util.Arrays.stream(query.split("&"))
                    .filter(pair -> !hidden(java.net.URLDecoder.decode(pair.split("=", 2)[0],
                            java.nio.charset.StandardCharsets.UTF_8)))
                    .collect(java.util.stream.Collectors.joining("&"));
            return kept.isEmpty() ? null : kept;
        }

        @Override
        public String getParameter(String name) {
            return hidden(name) ? null : super.getParameter(name);
        }

        @Override
        public Map<String, String[]> getParameterMap() {
            Map<String, String[]> kept = new java.util.LinkedHashMap<>();
            super.getParameterMap().forEach((name, values) -> {
                if (!hidden(name)) {
                    kept.put(name, values);
                }
            });
            return kept;
        }

        @Override
        public Enumeration<String> getParameterNames() {
            return Collections.enumeration(getParameterMap().keySet());
        }

        @Override
        public String[] getParameterValues(String name) {
            return hidden(name) ? null : super.getParameterValues(name);
        }

        @Override
        public int getContentLength() {
            return body != null ? body.length : super.getContentLength();
        }

        @Override
        public long getContentLengthLong() {
            return body != null ? body.length : super.getContentLengthLong();
        }

        @Override
        public ServletInputStream getInputStream() throws IOException {
            if (body == null) {
                return super.getInputStream();
            }
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new UnsupportedOperationException();
                }
            };
        }

        @Override
        public java.io.BufferedReader getReader() throws IOException {
            if (body == null) {
                return super.getReader();
            }
            String encoding = getCharacterEncoding() == null ? "UTF-8" : getCharacterEncoding();
            return new java.io.BufferedReader(new java.io.InputStreamReader(getInputStream(), encoding));
        }
    }
}
