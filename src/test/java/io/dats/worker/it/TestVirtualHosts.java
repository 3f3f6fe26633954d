package io.dats.worker.it;

import org.springframework.core.Ordered;
import org.springframework.test.annotation.DirtiesContext.HierarchyMode;
import org.springframework.test.context.TestContext;
import org.springframework.test.context.TestExecutionListener;

/**
 * Closes a test class's worker and deletes its {@link TestBroker} virtual host once the class is done, instead of
 * keeping both until the test JVM exits (see {@link TestBroker} for what that did to the broker). Registered for every
 * Spring test in {@code META-INF/spring.factories}; acts only on contexts whose {@code spring.rabbitmq.virtual-host} is
 * a test virtual host, and each IT class has its own, so no context is shared between classes anyway.
 *
 * <p>Highest precedence: after-class callbacks run in reverse order, so this runs after every other listener
 * (including {@code DirtiesContextTestExecutionListener}) is done with the context.
 */
public final class TestVirtualHosts implements TestExecutionListener, Ordered {

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE + 10;
    }

    @Override
    public void afterTestClass(TestContext testContext) {
        if (!testContext.hasApplicationContext()) {
            return;
        }
        String vhost = testContext.getApplicationContext().getEnvironment().getProperty("spring.rabbitmq.virtual-host");
        if (vhost == null) {
            return;
        }
        TestBroker.forVirtualHost(vhost).ifPresent(broker -> {
            // close the worker first: its consumers would otherwise see their queues vanish and reconnect
            testContext.markApplicationContextDirty(HierarchyMode.EXHAUSTIVE);
            broker.close();
        });
    }
}
