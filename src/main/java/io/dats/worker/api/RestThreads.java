package io.dats.worker.api;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.dats.worker.config.WorkerProperties;
import org.apache.camel.Processor;
import org.apache.camel.component.platform.http.PlatformHttpEndpoint;
import org.apache.camel.component.platform.http.spi.PlatformHttpConsumer;
import org.apache.camel.component.platform.http.spi.PlatformHttpEngine;
import org.apache.camel.component.platform.http.springboot.SpringBootPlatformHttpConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The threads REST requests run on. camel-platform-http on Spring Boot hands every request to an executor
 * ({@code CompletableFuture.runAsync(..., executor)} in {@link SpringBootPlatformHttpConsumer#service}) and that
 * thread is held until the route is done; by default the executor is Spring's task executor (16 threads, then a
 * queue of 256, and a plain 500 when it rejects), shared by every REST route, health included.
 * <p>
 * This engine (it replaces the starter's, which is {@code @ConditionalOnMissingBean}) gives task endpoints and the
 * other endpoints separate executors without a queue:
 * <ul>
 * <li><b>tasks</b> ({@code POST /api/v1/execute}): as many threads as REST callers can be admitted (sum over tiers
 * of concurrency + max-waiting) plus {@code worker.api.thread-headroom} for requests that do not wait (refusals,
 * 429s); a task therefore only ever waits in its own tier's line ({@code seda:llm-<tier>}), never for a thread;</li>
 * <li><b>service</b> (health, the OpenAPI document): a small pool of its own, so a full task line never delays
 * them.</li>
 * </ul>
 * Neither drops work: past its maximum an executor runs the request on the calling servlet container thread
 * (caller-runs), which can happen only for requests that do not wait, because admitted tasks never outnumber the
 * threads.
 */
@Configuration(proxyBeanMethods = false)
class RestThreads {

    /** Path of the only task endpoint; every other REST route answers without waiting. */
    static final String EXECUTE_PATH = "/api/v1/execute";

    private static final Logger LOG = LoggerFactory.getLogger(RestThreads.class);

    @Bean(name = "platform-http-engine", destroyMethod = "")
    PlatformHttpEngine platformHttpEngine(WorkerProperties properties, @Value("${server.port:8080}") int port) {
        int admitted = properties.tiers().values().stream()
                .mapToInt(tier -> tier.concurrency() + tier.maxWaiting()).sum();
        int taskThreads = admitted + properties.api().threadHeadroom();
        ExecutorService tasks = pool("rest-task-", taskThreads);
        ExecutorService service = pool("rest-service-", 8);
        LOG.info("REST task threads: {} (tiers' concurrency + max-waiting = {}, headroom {}); health and other "
                + "endpoints on their own {} threads", taskThreads, admitted, properties.api().threadHeadroom(), 8);
        return new WorkerPlatformHttpEngine(port, tasks, service);
    }

    /** No queue (a request gets a thread at once or runs on the caller), idle threads end after a minute. */
    static ThreadPoolExecutor pool(String prefix, int max) {
        AtomicInteger count = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(0, max, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
                runnable -> {
                    Thread thread = new Thread(runnable, prefix + count.incrementAndGet());
                    thread.setDaemon(true);
                    return thread;
                }, new ThreadPoolExecutor.CallerRunsPolicy());
        return pool;
    }

    /** Chooses the executor by the endpoint's path: the task endpoint or everything else. */
    static final class WorkerPlatformHttpEngine implements PlatformHttpEngine {

        private final int port;
        private final Executor tasks;
        private final Executor service;

        WorkerPlatformHttpEngine(int port, Executor tasks, Executor service) {
            this.port = port;
            this.tasks = tasks;
            this.service = service;
        }

        @Override
        public PlatformHttpConsumer createConsumer(PlatformHttpEndpoint endpoint, Processor processor) {
            Executor executor = EXECUTE_PATH.equals(endpoint.getPath()) ? tasks : service;
            return new SpringBootPlatformHttpConsumer(endpoint, processor, executor);
        }

        @Override
        public int getServerPort() {
            return port;
        }
    }
}
