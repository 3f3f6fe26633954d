package io.dats.worker.reload;

import java.nio.file.Path;

import org.apache.camel.CamelContext;
import org.apache.camel.spring.boot.CamelContextConfiguration;
import org.apache.camel.support.RouteWatcherReloadStrategy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * When route reload is on ({@code camel.main.routes-reload-enabled}, the dev profile), Camel's file watcher hands
 * changed route files to {@link RouteReloadGuard} instead of reloading them itself: a broken edit is reported in one
 * line and leaves the running routes alone. The watcher itself (directory, pattern) stays Camel's, configured by the
 * {@code camel.main.routes-reload-*} properties.
 */
@Configuration(proxyBeanMethods = false)
class RouteReloadConfiguration {

    private static final Logger LOG = LoggerFactory.getLogger(RouteReloadConfiguration.class);

    @Bean
    CamelContextConfiguration guardRouteReload() {
        return new CamelContextConfiguration() {
            @Override
            public void beforeApplicationStart(CamelContext camelContext) {
                RouteWatcherReloadStrategy watcher = camelContext.hasService(RouteWatcherReloadStrategy.class);
                if (watcher == null || watcher.getFolder() == null) {
                    return;
                }
                String pattern = watcher.getPattern() == null || watcher.getPattern().isBlank()
                        ? "*.camel.yaml" : watcher.getPattern().trim();
                if (pattern.contains(",")) {
                    pattern = "{" + pattern.replace(" ", "") + "}";
                }
                // the watcher keeps a listener set before it starts
                watcher.setResourceReload(new RouteReloadGuard(camelContext, Path.of(watcher.getFolder()), pattern));
                LOG.info("Route reload: a changed file in {} is checked before its routes are replaced; a broken edit "
                        + "is logged and the running routes keep running", watcher.getFolder());
            }

            @Override
            public void afterApplicationStart(CamelContext camelContext) {
                // nothing to do
            }
        };
    }
}
