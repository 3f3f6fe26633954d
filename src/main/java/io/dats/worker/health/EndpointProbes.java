package io.dats.worker.health;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.LongSupplier;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Whether the services the worker calls answer at their URLs, for {@code /health}. Any HTTP answer counts as
 * reachable (a 404 or 401 still says a server listens there); a refused connection, a timeout or an unknown host does
 * not. A look is a GET with {@code worker.health.probe-timeout} for connect and answer.
 *
 * <p>Cheap under load and never stuck on a dead endpoint: a result is served for {@code worker.health.probe-cache};
 * after that the next caller starts a new look on a background thread and is served the previous result meanwhile.
 * Only the very first look at a URL is waited for (at most the timeout, plus a little), so that the first
 * {@code /health} already tells the truth.
 */
@Component
public class EndpointProbes implements DisposableBean {

    /** The result of one look at a URL; {@code body} is the answer of a 2xx (at most {@link #MAX_BODY} characters), else null. */
    public record Probe(boolean reachable, String detail, Instant checkedAt, String body) {

        public Probe(boolean reachable, String detail, Instant checkedAt) {
            this(reachable, detail, checkedAt, null);
        }
    }

    /** The longest answer kept (an Ollama model list is a few hundred bytes per model). */
    static final int MAX_BODY = 256 * 1024;

    private final Function<URI, Probe> look;
    private final long cacheNanos;
    private final Duration firstWait;
    private final LongSupplier nanoClock;
    private final ExecutorService executor;
    private final ConcurrentMap<URI, Entry> entries = new ConcurrentHashMap<>();

    @Autowired
    EndpointProbes(HealthProperties properties) {
        this(httpLook(properties.probeTimeout()), properties.probeCache(),
                properties.probeTimeout().plusMillis(500), System::nanoTime);
    }

    EndpointProbes(Function<URI, Probe> look, Duration cache, Duration firstWait, LongSupplier nanoClock) {
        this.look = look;
        this.cacheNanos = cache.toNanos();
        this.firstWait = firstWait;
        this.nanoClock = nanoClock;
        this.executor = Executors.newFixedThreadPool(2, runnable -> {
            Thread thread = new Thread(runnable, "health-probe");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** The latest look at the URL (see the class comment for when it is taken). */
    public Probe probe(URI url) {
        return entries.computeIfAbsent(url, Entry::new).get();
    }

    /** A GET with the timeout for connect and answer; any HTTP status means a server answers. */
    static Function<URI, Probe> httpLook(Duration timeout) {
        HttpClient http = HttpClient.newBuilder()
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
        return url -> {
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(url).timeout(timeout).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                String body = response.statusCode() / 100 == 2 && response.body().length() <= MAX_BODY ? response.body() : null;
                return new Probe(true, "HTTP " + response.statusCode(), Instant.now(), body);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Probe(false, "interrupted", Instant.now());
            } catch (Exception e) {
                return new Probe(false, describe(e), Instant.now());
            }
        };
    }

    /** The failure's type, and the first message found along its causes (or the cause's type when none has one). */
    static String describe(Throwable failure) {
        StringBuilder text = new StringBuilder(failure.getClass().getSimpleName());
        Throwable withMessage = failure;
        while (withMessage != null && withMessage.getMessage() == null) {
            withMessage = withMessage.getCause();
        }
        if (withMessage != null) {
            text.append(": ").append(withMessage.getMessage());
        } else if (failure.getCause() != null) {
            text.append(" (").append(failure.getCause().getClass().getSimpleName()).append(')');
        }
        return text.toString();
    }

    @Override
    public void destroy() {
        executor.shutdownNow();
    }

    private final class Entry {

        private final URI url;
        private Probe last;
        private long checkedAt;
        private CompletableFuture<Probe> pending;

        Entry(URI url) {
            this.url = url;
        }

        Probe get() {
            CompletableFuture<Probe> first;
            synchronized (this) {
                boolean stale = last == null || nanoClock.getAsLong() - checkedAt >= cacheNanos;
                if (stale && pending == null) {
                    CompletableFuture<Probe> look = CompletableFuture.supplyAsync(this::lookNow, executor);
                    pending = look;
                    look.whenComplete((probe, failure) -> done(look, probe, failure));
                }
                if (last != null) {
                    return last;
                }
                first = pending;
            }
            try {
                return first.get(firstWait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                return new Probe(false, "no answer within " + firstWait.toMillis() + " ms", Instant.now());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Probe(false, "interrupted", Instant.now());
            } catch (Exception e) {
                return new Probe(false, describe(e), Instant.now());
            }
        }

        private Probe lookNow() {
            return look.apply(url);
        }

        private synchronized void done(CompletableFuture<Probe> look, Probe probe, Throwable failure) {
            last = probe != null ? probe : new Probe(false, describe(failure), Instant.now());
            checkedAt = nanoClock.getAsLong();
            if (pending == look) {
                pending = null;
            }
        }
    }
}
