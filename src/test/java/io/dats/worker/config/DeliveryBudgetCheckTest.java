package io.dats.worker.config;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

import io.dats.worker.config.WorkerProperties.Retry;
import org.junit.jupiter.api.Test;

import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.PropertySource;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.FileSystemResource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeliveryBudgetCheckTest {

    @Test
    void passesTheCommittedConfiguration() throws IOException {
        WorkerProperties committed = bindCommittedConfiguration();

        assertThat(committed.tiers()).containsOnlyKeys("tiny", "small", "large", "coding", "frontier");
        assertThat(DeliveryBudgetCheck.violations(committed)).isEmpty();
        assertThatCode(() -> new DeliveryBudgetCheck(committed).afterPropertiesSet()).doesNotThrowAnyException();
    }

    @Test
    void passesTheTestDefaults() {
        assertThat(DeliveryBudgetCheck.violations(TestWorkerProperties.defaults())).isEmpty();
    }

    @Test
    void addsAttemptsBackoffAndRagTimeoutToTheWorstCase() {
        WorkerProperties properties = TestWorkerProperties.defaults();

        // frontier: 2 x 600 s + 1 s backoff + 5 s RAG timeout
        assertThat(DeliveryBudgetCheck.worstCase(properties, properties.tier("frontier"))).isEqualTo(Duration.ofSeconds(1206));
        // small: 3 x 120 s + (1 + 2) s backoff + 5 s
        assertThat(DeliveryBudgetCheck.worstCase(properties, properties.tier("small"))).isEqualTo(Duration.ofSeconds(368));
    }

    @Test
    void failsAFrontierTierWithThreeAttemptsOfTenMinutes() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        WorkerProperties properties = TestWorkerProperties.withTier(defaults, "frontier",
                TestWorkerProperties.withBudget(defaults.tier("frontier"), 3, Duration.ofSeconds(600)));

        List<String> problems = DeliveryBudgetCheck.violations(properties);

        assertThat(problems).singleElement().asString()
                .startsWith("tier frontier:")
                .contains("1808 s exceeds 75% of the broker consumer timeout (1800 s")
                .contains("worker.tiers.frontier.max-attempts");
        assertThatThrownBy(() -> new DeliveryBudgetCheck(properties).afterPropertiesSet())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tier frontier");
    }

    @Test
    void acceptsAWorstCaseExactlyAtTheBudget() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        // 1 x 1345 s + no backoff + 5 s RAG = 1350 s = 75% of 30 min
        WorkerProperties atBudget = TestWorkerProperties.withTier(defaults, "tiny",
                TestWorkerProperties.withBudget(defaults.tier("tiny"), 1, Duration.ofSeconds(1345)));
        WorkerProperties overBudget = TestWorkerProperties.withTier(defaults, "tiny",
                TestWorkerProperties.withBudget(defaults.tier("tiny"), 1, Duration.ofSeconds(1346)));

        assertThat(DeliveryBudgetCheck.violations(atBudget)).isEmpty();
        assertThat(DeliveryBudgetCheck.violations(overBudget)).singleElement().asString().startsWith("tier tiny:");
    }

    @Test
    void namesEveryTierThatExceedsAShortConsumerTimeout() {
        WorkerProperties defaults = TestWorkerProperties.defaults();
        WorkerProperties.Broker broker = defaults.broker();
        WorkerProperties properties = new WorkerProperties(defaults.tiers(), defaults.domains(), defaults.rag(),
                new WorkerProperties.Broker(broker.exchange(), broker.queuePrefix(), broker.readyRoutingKeyPrefix(),
                        broker.deadLetterExchange(), broker.deadLetterQueue(), broker.unroutedExchange(),
                        broker.unroutedQueue(), broker.deliveryLimit(), broker.prefetch(),
                        Duration.ofMinutes(10)),
                defaults.retry(), defaults.images(), defaults.templateDir(), defaults.api());

        List<String> problems = DeliveryBudgetCheck.violations(properties);

        // budget 450 s: small (368 s) fits; tiny 3 x 60 s fits; large and coding (908 s) and frontier (1206 s) do not
        assertThat(problems).extracting(problem -> problem.substring(0, problem.indexOf(':')))
                .containsExactly("tier large", "tier coding", "tier frontier");
    }

    @Test
    void sumsTheBackoffDelaysBeforeEachRetry() {
        Retry retry = new Retry(Duration.ofSeconds(1), 2.0, Duration.ofSeconds(30));

        assertThat(retry.totalDelay(0)).isEqualTo(Duration.ZERO);
        assertThat(retry.totalDelay(1)).isEqualTo(Duration.ZERO);
        assertThat(retry.totalDelay(2)).isEqualTo(Duration.ofSeconds(1));
        assertThat(retry.totalDelay(3)).isEqualTo(Duration.ofSeconds(3));
        // 1 + 2 + 4 + 8 + 16 + 30 (capped at max-delay)
        assertThat(retry.totalDelay(7)).isEqualTo(Duration.ofSeconds(61));
    }

    @Test
    void capsEveryBackoffDelayAtTheMaximum() {
        assertThat(new Retry(Duration.ofMillis(500), 1.0, Duration.ofSeconds(30)).totalDelay(5)).isEqualTo(Duration.ofSeconds(2));
        assertThat(new Retry(Duration.ofSeconds(10), 3.0, Duration.ofSeconds(5)).totalDelay(4)).isEqualTo(Duration.ofSeconds(15));
    }

    /** config/application.yaml bound as Spring Boot binds it (placeholders resolved, defaults applied). */
    static WorkerProperties bindCommittedConfiguration() throws IOException {
        StandardEnvironment environment = new StandardEnvironment();
        List<PropertySource<?>> yaml = new YamlPropertySourceLoader()
                .load("config/application.yaml", new FileSystemResource("config/application.yaml"));
        yaml.forEach(environment.getPropertySources()::addLast);
        return Binder.get(environment).bind("worker", WorkerProperties.class).get();
    }
}
