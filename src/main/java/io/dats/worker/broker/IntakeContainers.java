package io.dats.worker.broker;

import org.apache.camel.CamelContext;
import org.apache.camel.component.springrabbit.DefaultListenerContainerFactory;
import org.apache.camel.component.springrabbit.SpringRabbitMQComponent;
import org.apache.camel.component.springrabbit.SpringRabbitMQEndpoint;
import org.apache.camel.spring.boot.CamelContextConfiguration;

import org.springframework.amqp.rabbit.listener.AbstractMessageListenerContainer;
import org.springframework.amqp.rabbit.listener.SimpleMessageListenerContainer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The queue intakes' listener containers (one per tier and priority lane: {@code intake-<tier>[-<priority>]}) wait
 * {@value #RECEIVE_TIMEOUT_MS} ms instead of Spring AMQP's 1 s for a delivery before looking whether they must stop:
 * Camel stops the routes one after the other, and each idle container took that second to stop, so a worker with
 * four lanes per tier took 20 s to stop its intakes. An idle consumer thread wakes up 5 times a second for it. The
 * containers are also recorded ({@link IntakeListeners}) for the readiness check of their consumers.
 */
@Configuration(proxyBeanMethods = false)
class IntakeContainers {

    static final long RECEIVE_TIMEOUT_MS = 200;

    @Bean
    IntakeListeners intakeListeners() {
        return new IntakeListeners();
    }

    @Bean
    CamelContextConfiguration quickToStopIntakeContainers(IntakeListeners listeners) {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                camelContext.getComponent("spring-rabbitmq", SpringRabbitMQComponent.class)
                        .setListenerContainerFactory(new DefaultListenerContainerFactory() {
                            @Override
                            public AbstractMessageListenerContainer createListenerContainer(SpringRabbitMQEndpoint endpoint) {
                                AbstractMessageListenerContainer container = super.createListenerContainer(endpoint);
                                if (container instanceof SimpleMessageListenerContainer simple) {
                                    simple.setReceiveTimeout(RECEIVE_TIMEOUT_MS);
                                }
                                listeners.created(endpoint, container);
                                return container;
                            }
                        });
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }
}
