package io.dats.worker.metrics;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.NamedNode;
import org.apache.camel.Route;
import org.apache.camel.spi.RoutePolicy;
import org.apache.camel.spi.RoutePolicyFactory;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.apache.camel.support.RoutePolicySupport;
import org.apache.camel.support.SynchronizationAdapter;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Times every task that enters the {@code process-task} route (both intakes) until its exchange is done, outcome
 * published or failure handled, and then counts it as completed or failed with its latencies, tokens and RAG status
 * ({@link WorkerMetrics#recordTask}): one place for the task meters, REST failures included. Observes the route from
 * outside, so the pipeline's YAML stays as it is.
 */
final class TaskMetricsPolicy extends RoutePolicySupport {

    static final String ROUTE = "process-task";
    private static final String STARTED = "workerTaskStarted";

    private final WorkerMetrics metrics;

    TaskMetricsPolicy(WorkerMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void onExchangeBegin(Route route, Exchange exchange) {
        if (exchange.getProperty(STARTED) != null) {
            return;
        }
        long start = System.nanoTime();
        exchange.setProperty(STARTED, start);
        // on the unit of work's end, also while Camel stops (a policy's onExchangeDone is skipped then)
        exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                metrics.recordTask(done, start);
            }
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class Registration {

        @Bean
        CamelContextConfiguration taskMetricsPolicy(WorkerMetrics metrics) {
            RoutePolicyFactory factory = new RoutePolicyFactory() {
                @Override
                public RoutePolicy createRoutePolicy(CamelContext camelContext, String routeId, NamedNode route) {
                    return ROUTE.equals(routeId) ? new TaskMetricsPolicy(metrics) : null;
                }
            };
            return new CamelContextConfiguration() {
                @Override
                public void beforeApplicationStart(CamelContext camelContext) {
                    camelContext.addRoutePolicyFactory(factory);
                }

                @Override
                public void afterApplicationStart(CamelContext camelContext) {
                    // nothing to do
                }
            };
        }
    }
}
