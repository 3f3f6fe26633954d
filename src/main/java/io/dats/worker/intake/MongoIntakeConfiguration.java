package io.dats.worker.intake;

import com.mongodb.ConnectionString;
import com.mongodb.MongoClientSettings;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import io.dats.worker.config.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.mongo.MongoClientSettingsBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The MongoDB intake's client and collection, only when {@code worker.mongo.uri} is set (Spring Boot's own MongoDB
 * auto-configuration is excluded in config/application.yaml, so an unconfigured worker opens no MongoDB connection).
 * The client is built the Spring Boot way: settings from the connection string, then every
 * {@link MongoClientSettingsBuilderCustomizer} bean.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("!'${worker.mongo.uri:}'.isBlank()")
class MongoIntakeConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(MongoIntakeConfiguration.class);

    @Bean(destroyMethod = "close")
    MongoClient mongoIntakeClient(MongoIntakeProperties properties,
                                  ObjectProvider<MongoClientSettingsBuilderCustomizer> customizers) {
        MongoClientSettings.Builder settings = MongoClientSettings.builder()
                .applyConnectionString(new ConnectionString(properties.uri()));
        customizers.orderedStream().forEach(customizer -> customizer.customize(settings));
        return MongoClients.create(settings.build());
    }

    @Bean
    MongoContexts mongoContexts(MongoClient mongoIntakeClient, MongoIntakeProperties properties, TierRoom tierRoom,
                                IntakeSwitches switches, WorkerProperties worker) {
        worker.tiers().forEach((name, tier) -> {
            var worst = tier.timeout().multipliedBy(tier.maxAttempts())
                    .plus(worker.retry().totalDelay(tier.maxAttempts())).plus(worker.rag().timeout());
            if (worst.compareTo(properties.lease()) > 0) {
                LOG.warn("worker.mongo.lease {} is shorter than tier {}'s worst case per task ({} s): a context still "
                        + "running then may be reclaimed and run twice", properties.lease(), name, worst.toSeconds());
            }
        });
        LOG.info("MongoDB intake: {}.{} every {}, up to {} contexts per poll, lease {}, worker {}",
                properties.database(), properties.collection(), properties.pollInterval(), properties.batchSize(),
                properties.lease(), switches.workerId());
        return new MongoContexts(mongoIntakeClient, properties, tierRoom, switches.workerId());
    }
}
