package io.dats.worker.security;

import java.io.InputStream;

import javax.management.ObjectName;

import org.jolokia.server.core.restrictor.policy.PolicyRestrictor;
import org.jolokia.server.core.util.RequestType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The Jolokia access policy on the classpath (jolokia-access.xml), as Jolokia's own restrictor reads it. */
class JolokiaAccessPolicyTest {

    static final String CONTEXT = "org.apache.camel:context=llm-task-worker,";
    static PolicyRestrictor policy;

    @BeforeAll
    static void readPolicy() throws Exception {
        try (InputStream xml = JolokiaAccessPolicyTest.class.getResourceAsStream("/jolokia-access.xml")) {
            assertThat(xml).as("jolokia-access.xml on the classpath").isNotNull();
            policy = new PolicyRestrictor(xml);
        }
    }

    @Test
    void listsSearchesAndReportsTheVersion() {
        assertThat(policy.isTypeAllowed(RequestType.LIST)).isTrue();
        assertThat(policy.isTypeAllowed(RequestType.SEARCH)).isTrue();
        assertThat(policy.isTypeAllowed(RequestType.VERSION)).isTrue();
    }

    @Test
    void readsCamelJvmAndHawtioAttributesOnly() throws Exception {
        assertThat(policy.isAttributeReadAllowed(name(CONTEXT + "type=routes,name=\"llm-small\""), "ExchangesTotal")).isTrue();
        assertThat(policy.isAttributeReadAllowed(name(CONTEXT + "type=context,name=\"llm-task-worker\""), "State")).isTrue();
        assertThat(policy.isAttributeReadAllowed(name(CONTEXT + "type=processors,name=\"to2\""), "ExchangesTotal")).isTrue();
        assertThat(policy.isAttributeReadAllowed(name("java.lang:type=Memory"), "HeapMemoryUsage")).isTrue();
        assertThat(policy.isAttributeReadAllowed(name("java.lang:type=Runtime"), "Uptime")).isTrue();
        assertThat(policy.isAttributeReadAllowed(name("hawtio:type=About"), "HawtioVersion")).isTrue();

        assertThat(policy.isAttributeReadAllowed(name("java.lang:type=Runtime"), "SystemProperties")).isFalse();
        assertThat(policy.isAttributeReadAllowed(name("java.lang:type=Runtime"), "InputArguments")).isFalse();
        assertThat(policy.isAttributeReadAllowed(name("java.nio:type=BufferPool,name=direct"), "Count")).isFalse();
        assertThat(policy.isAttributeReadAllowed(name("org.springframework.boot:type=Endpoint,name=Env"), "x")).isFalse();
    }

    @Test
    void writesNoAttribute() throws Exception {
        assertThat(policy.isAttributeWriteAllowed(name("java.lang:type=Memory"), "Verbose")).isFalse();
        assertThat(policy.isAttributeWriteAllowed(name(CONTEXT + "type=routes,name=\"llm-small\""), "TracingPattern")).isFalse();
        assertThat(policy.isAttributeWriteAllowed(name(CONTEXT + "type=tracer,name=BacklogTracer"), "Enabled")).isFalse();
    }

    @Test
    void executesCamelRouteOperationsOnly() throws Exception {
        ObjectName route = name(CONTEXT + "type=routes,name=\"llm-small\"");
        for (String operation : new String[] {"dumpRouteAsXml()", "dumpRouteAsXml(boolean)", "dumpRouteStatsAsXml(boolean,boolean)",
                "start()", "stop()", "suspend()", "resume()"}) {
            assertThat(policy.isOperationAllowed(route, operation)).as(operation).isTrue();
        }
        assertThat(policy.isOperationAllowed(route, "remove()")).isFalse();
        assertThat(policy.isOperationAllowed(route, "updateRouteFromXml(java.lang.String)")).isFalse();
        assertThat(policy.isOperationAllowed(name(CONTEXT + "type=services,name=DefaultInflightRepository"), "browse()")).isTrue();

        ObjectName context = name(CONTEXT + "type=context,name=\"llm-task-worker\"");
        assertThat(policy.isOperationAllowed(context, "dumpRoutesAsXml()")).isTrue();
        assertThat(policy.isOperationAllowed(context, "stop()")).isFalse();
        assertThat(policy.isOperationAllowed(context, "sendStringBody(java.lang.String, java.lang.String)")).isFalse();
        assertThat(policy.isOperationAllowed(context, "createEndpoint(java.lang.String)")).isFalse();
    }

    @Test
    void executesNothingOnTheJvmOrOtherDomains() throws Exception {
        assertThat(policy.isOperationAllowed(name("java.lang:type=Memory"), "gc()")).isFalse();
        assertThat(policy.isOperationAllowed(name("java.lang:type=Memory"), "gc")).isFalse();
        assertThat(policy.isOperationAllowed(name("java.lang:type=Threading"), "dumpAllThreads(boolean,boolean)")).isFalse();
        assertThat(policy.isOperationAllowed(name("com.sun.management:type=HotSpotDiagnostic"), "dumpHeap(java.lang.String,boolean)")).isFalse();
        assertThat(policy.isOperationAllowed(name("com.sun.management:type=DiagnosticCommand"), "vmSystemProperties()")).isFalse();
        assertThat(policy.isOperationAllowed(name("jolokia:type=Config"), "debugInfo()")).isFalse();
        assertThat(policy.isOperationAllowed(name("org.springframework.boot:type=Endpoint,name=Shutdown"), "shutdown()")).isFalse();
    }

    private static ObjectName name(String name) throws Exception {
        return new ObjectName(name);
    }
}
