package io.dats.worker.health;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import com.sun.net.httpserver.HttpServer;
import io.dats.worker.health.EndpointProbes.Probe;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class EndpointProbesTest {

    static final URI URL = URI.create("http://127.0.0.1:1/x");

    @Test
    void servesALookForTheCacheTimeThenLooksAgainInTheBackgroundServingThePreviousMeanwhile() throws Exception {
        AtomicLong clock = new AtomicLong();
        AtomicInteger looks = new AtomicInteger();
        AtomicBoolean reachable = new AtomicBoolean(true);
        CountDownLatch release = new CountDownLatch(1);
        Function<URI, Probe> look = url -> {
            if (looks.incrementAndGet() > 1) {
                hold(release);
            }
            return new Probe(reachable.get(), "look " + looks.get(), Instant.now());
        };
        EndpointProbes probes = new EndpointProbes(look, Duration.ofSeconds(5), Duration.ofSeconds(2), clock::get);
        try {
            assertThat(probes.probe(URL).reachable()).as("the first look is waited for").isTrue();
            clock.addAndGet(Duration.ofSeconds(4).toNanos());
            assertThat(probes.probe(URL).detail()).isEqualTo("look 1");
            assertThat(looks).hasValue(1);

            reachable.set(false);
            clock.addAndGet(Duration.ofSeconds(2).toNanos());
            // stale: a second look starts (held by the latch) and callers get the previous result without waiting
            long start = System.nanoTime();
            for (int i = 0; i < 20; i++) {
                assertThat(probes.probe(URL).detail()).isEqualTo("look 1");
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(500));
            await().atMost(Duration.ofSeconds(5)).until(() -> looks.get() == 2);
            assertThat(probes.probe(URL).detail()).isEqualTo("look 1");
            assertThat(looks).as("one look at a time").hasValue(2);
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> !probes.probe(URL).reachable());
            assertThat(probes.probe(URL).detail()).isEqualTo("look 2");
        } finally {
            release.countDown();
            probes.destroy();
        }
    }

    @Test
    void aFirstLookThatHangsIsGivenUpAfterTheWait() {
        CountDownLatch never = new CountDownLatch(1);
        EndpointProbes probes = new EndpointProbes(url -> {
            hold(never);
            return new Probe(true, "late", Instant.now());
        }, Duration.ofSeconds(5), Duration.ofMillis(200), System::nanoTime);
        try {
            long start = System.nanoTime();
            Probe probe = probes.probe(URL);
            assertThat(probe.reachable()).isFalse();
            assertThat(probe.detail()).contains("no answer within 200 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        } finally {
            never.countDown();
            probes.destroy();
        }
    }

    @Test
    void httpLookCountsAnyHttpAnswerAsReachableAndARefusedConnectionAsNot() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(404, -1);
            exchange.close();
        });
        server.start();
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try {
            Function<URI, Probe> look = EndpointProbes.httpLook(Duration.ofSeconds(1));
            Probe answered = look.apply(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/v1"));
            assertThat(answered.reachable()).isTrue();
            assertThat(answered.detail()).isEqualTo("HTTP 404");
            Probe refused = look.apply(URI.create("http://127.0.0.1:" + closedPort + "/v1"));
            assertThat(refused.reachable()).isFalse();
            assertThat(refused.detail()).contains("ConnectException");
        } finally {
            server.stop(0);
        }
    }

    private static void hold(CountDownLatch latch) {
        try {
            latch.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
