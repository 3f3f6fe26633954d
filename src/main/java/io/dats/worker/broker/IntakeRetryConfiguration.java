package io.dats.worker.broker;

import java.time.Duration;
import java.util.Optional;

import io.dats.worker.llm.LlmFailures;
import io.dats.worker.llm.TierCircuits;
import io.dats.worker.llm.TierUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.amqp.ImmediateRequeueAmqpException;
import org.springframework.amqp.core.Message;
import org.springframework.amqp.rabbit.config.RetryInterceptorBuilder;
import org.springframework.amqp.rabbit.retry.MessageRecoverer;
import org.springframework.amqp.rabbit.retry.RejectAndDontRequeueRecoverer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.retry.interceptor.RetryOperationsInterceptor;
import org.springframework.retry.policy.NeverRetryPolicy;

/**
 * What the tier queues' listeners do with a delivery whose route failed (the intake's {@code retry} option): one
 * attempt, then reject without requeue, so the broker dead-letters it (as {@code rejectAndDontRequeue} did), except
 * for a task deferred because its tier's circuit is open ({@link TierUnavailableException}): that delivery goes back
 * to its queue un-acknowledged, after the tier's intake has begun to suspend (so no other consumer of the intake takes
 * it again at once).
 */
@Configuration(proxyBeanMethods = false)
class IntakeRetryConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeRetryConfiguration.class);
    private static final Duration HOLD_WAIT = Duration.ofSeconds(5);

    @Bean
    RetryOperationsInterceptor intakeRetry(TierCircuits circuits) {
        MessageRecoverer reject = new RejectAndDontRequeueRecoverer();
        MessageRecoverer recoverer = (message, cause) -> {
            Optional<TierUnavailableException> deferred = LlmFailures.causeChain(cause)
                    .filter(TierUnavailableException.class::isInstance).map(TierUnavailableException.class::cast)
                    .findFirst();
            if (deferred.isEmpty()) {
                reject.recover(message, cause);
                return;
            }
            circuits.awaitIntakeHeld(deferred.get().tier(), HOLD_WAIT);
            LOG.info("A task of tier {} goes back to its queue: the tier's circuit is open (message id {})",
                    deferred.get().tier(), messageId(message));
            throw new ImmediateRequeueAmqpException("tier " + deferred.get().tier() + " is unavailable", cause);
        };
        return RetryInterceptorBuilder.stateless().retryPolicy(new NeverRetryPolicy()).recoverer(recoverer).build();
    }

    private static String messageId(Message message) {
        return message.getMessageProperties() == null ? null : message.getMessageProperties().getMessageId();
    }
}
