package io.dats.worker.security;

import java.util.List;

import org.junit.jupiter.api.Test;

import org.springframework.mock.web.MockHttpServletRequest;

import static org.assertj.core.api.Assertions.assertThat;

/** Which Jolokia GETs need the CSRF token (POSTs always do, through Spring Security's default matcher). */
class SecurityConfigurationTest {

    @Test
    void readOnlyJolokiaGetsNeedNoCsrfToken() {
        for (String path : new String[] {"", "/", "/version", "/read/java.lang:type=Memory/HeapMemoryUsage", "/list",
                "/list/org.apache.camel", "/search/org.apache.camel:*"}) {
            assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(jolokia("GET", path))).as(path).isFalse();
        }
    }

    @Test
    void otherJolokiaGetsNeedTheCsrfToken() {
        for (String path : new String[] {"/exec/java.lang:type=Memory/gc", "/write/java.lang:type=Memory/Verbose/true",
                "/readx/foo", "/notification/open", "/Exec/java.lang:type=Memory/gc"}) {
            assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(jolokia("GET", path))).as(path).isTrue();
            assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(jolokia("HEAD", path))).as(path).isTrue();
        }
        MockHttpServletRequest viaHawtio = new MockHttpServletRequest("GET", "/actuator/hawtio/jolokia/exec/java.lang:type=Memory/gc");
        viaHawtio.setServletPath("/actuator/hawtio/jolokia/exec/java.lang:type=Memory/gc");
        assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(viaHawtio)).isTrue();
        MockHttpServletRequest viaParameter = jolokia("GET", "/read/java.lang:type=Memory/HeapMemoryUsage");
        viaParameter.setParameter("p", "/exec/java.lang:type=Memory/gc");
        assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(viaParameter)).isTrue();
    }

    @Test
    void onlyPagesAndOperatorCallsGetACsrfTokenCookieNotTheEndpointsProgramsCall() {
        for (String machine : List.of("/api/v1/execute", "/api/v1/tasks/t-1", "/health", "/readyz", "/livez",
                "/actuator/health/readiness", "/info", "/metrics", "/v1/infer", "/rag/api/v1/context")) {
            assertThat(SecurityConfiguration.isMachineEndpoint(new MockHttpServletRequest("GET", machine))).as(machine).isTrue();
        }
        for (String page : List.of("/login", "/actuator/hawtio/", "/actuator/jolokia", "/api/v1/admin/dead-letters",
                "/rag/api/v1/ingest", "/healthz", "/api/v2/execute")) {
            assertThat(SecurityConfiguration.isMachineEndpoint(new MockHttpServletRequest("GET", page))).as(page).isFalse();
        }
    }

    @Test
    void otherRequestsAreLeftToTheDefaultMatcher() {
        assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(jolokia("POST", "/exec/java.lang:type=Memory/gc"))).isFalse();
        MockHttpServletRequest hawtio = new MockHttpServletRequest("GET", "/actuator/hawtio/camel/routes");
        hawtio.setServletPath("/actuator/hawtio/camel/routes");
        assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(hawtio)).isFalse();
        MockHttpServletRequest lookalike = new MockHttpServletRequest("GET", "/actuator/jolokiax/exec/x");
        lookalike.setServletPath("/actuator/jolokiax/exec/x");
        assertThat(SecurityConfiguration.isJolokiaGetThatIsNotARead(lookalike)).isFalse();
    }

    @Test
    void noOriginIsAllowedOnTheActuatorAndOtherPathsKeepNoCorsHandling() {
        MockHttpServletRequest actuator = new MockHttpServletRequest("GET", "/actuator/jolokia/version");
        actuator.setServletPath("/actuator/jolokia");
        actuator.setPathInfo("/version");
        assertThat(SecurityConfiguration.actuatorCors(actuator).checkOrigin("https://example.org")).isNull();
        MockHttpServletRequest api = new MockHttpServletRequest("POST", "/api/v1/execute");
        api.setServletPath("/api/v1/execute");
        assertThat(SecurityConfiguration.actuatorCors(api)).isNull();
    }

    private static MockHttpServletRequest jolokia(String method, String pathInfo) {
        MockHttpServletRequest request = new MockHttpServletRequest(method, "/actuator/jolokia" + pathInfo);
        request.setServletPath("/actuator/jolokia");
        request.setPathInfo(pathInfo.isEmpty() ? null : pathInfo);
        return request;
    }
}
