package io.dats.worker.lifecycle;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

import io.dats.worker.config.WorkerProperties;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.camel.CamelContext;
import org.apache.camel.component.springrabbit.SpringRabbitMQComponent;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.core.Ordered;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * A stopping worker finishes what it started. On SIGTERM Spring closes the context: first {@link ShutdownGate} answers
 * every new REST call with 503 (JSON, {@code Retry-After}); then Camel stops, suspending the queue consumers (no new
 * deliveries) and waiting up to the drain budget for the tasks in flight, whose outcomes are published and whose
 * deliveries are acknowledged as usual; a delivery still unfinished when the budget is spent is not acknowledged, so the
 * broker hands it to another worker. The budget is applied to the listener containers' shutdown timeout (5 s by
 * default, which requeued tasks whose LLM calls still ran) and to Camel's shutdown timeout.
 */
@Configuration(proxyBeanMethods = false)
class GracefulShutdown {

    /** Time to publish an outcome and acknowledge after the last LLM attempt ended. */
    static final Duration PUBLISH_MARGIN = Duration.ofSeconds(15);

    private static final Logger LOG = LoggerFactory.getLogger(GracefulShutdown.class);

    static Duration drainBudget(ShutdownProperties shutdown, WorkerProperties properties) {
        if (shutdown.drainTimeout() != null) {
            return shutdown.drainTimeout();
        }
        Duration longest = properties.tiers().values().stream().map(WorkerProperties.Tier::timeout)
                .max(Duration::compareTo).orElse(Duration.ZERO);
        return longest.plus(properties.rag().timeout()).plus(PUBLISH_MARGIN);
    }

    @Bean
    CamelContextConfiguration drainOnShutdown(ShutdownProperties shutdown, WorkerProperties properties) {
        Duration budget = drainBudget(shutdown, properties);
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                camelContext.getComponent("spring-rabbitmq", SpringRabbitMQComponent.class)
                        .setShutdownTimeout(budget.toMillis());
                // Camel's own wait for in-flight exchanges, a little longer so that the containers time out first
                camelContext.getShutdownStrategy().setTimeout(budget.plusSeconds(5).toSeconds());
                camelContext.getShutdownStrategy().setTimeUnit(java.util.concurrent.TimeUnit.SECONDS);
                LOG.info("On SIGTERM the worker stops taking tasks and lets those in flight finish for up to {} s "
                        + "(worker.shutdown.drain-timeout{}); unfinished deliveries go back to their queues", budget.toSeconds(),
                        shutdown.drainTimeout() == null ? ", derived: longest tier timeout + RAG timeout + "
                                + PUBLISH_MARGIN.toSeconds() + " s" : "");
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }

    @Bean
    ShutdownGate shutdownGate(CamelContext camelContext) {
        return new ShutdownGate(camelContext);
    }

    @Bean
    FilterRegistrationBean<ShutdownGate> shutdownGateFilter(ShutdownGate gate) {
        FilterRegistrationBean<ShutdownGate> registration = new FilterRegistrationBean<>(gate);
        registration.addUrlPatterns("/api/*", "/health", "/v1/*", "/info", "/metrics");
        // before Spring Security: a stopping worker says so to every caller
        registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
        return registration;
    }

    /**
     * Answers 503 to REST calls once the worker is stopping, and drains Camel while the web server still answers:
     * Spring stops the web server before Camel's lifecycle, which would refuse connections instead of saying 503, and
     * drop the REST calls in flight.
     */
    static final class ShutdownGate extends OncePerRequestFilter implements ApplicationListener<ContextClosedEvent> {

        private final AtomicBoolean stopping = new AtomicBoolean();
        private final CamelContext camelContext;

        ShutdownGate(CamelContext camelContext) {
            this.camelContext = camelContext;
        }

        @Override
        public void onApplicationEvent(ContextClosedEvent event) {
            if (event.getApplicationContext().getParent() != null || !stopping.compareAndSet(false, true)) {
                return;
            }
            LOG.info("Worker stopping: new REST calls are answered 503; the queue consumers stop and the tasks in flight "
                    + "finish");
            long start = System.nanoTime();
            camelContext.stop();
            LOG.info("Worker drained in {} ms", java.time.Duration.ofNanos(System.nanoTime() - start).toMillis());
        }

        boolean stopping() {
            return stopping.get();
        }

        @Override
        protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
                throws ServletException, IOException {
            if (!stopping.get()) {
                chain.doFilter(request, response);
                return;
            }
            response.setStatus(HttpServletResponse.SC_SERVICE_UNAVAILABLE);
            response.setHeader("Retry-After", "5");
            response.setHeader("Connection", "close");
            response.setContentType("application/json");
            String body = request.getRequestURI().endsWith("/health")
                    ? "{\"status\":\"STOPPING\"}"
                    : "{\"error\":\"shutting_down\",\"detail\":\"the worker is stopping; send the task to another "
                            + "instance or retry shortly\",\"task_id\":null}";
            response.getWriter().write(body);
        }
    }
}
