package io.dats.worker.it;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import jakarta.servlet.Filter;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.handler.TracingObservationHandler;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import org.apache.camel.CamelContext;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.rest.RestDefinition;
import org.apache.camel.model.rest.VerbDefinition;
import org.junit.jupiter.api.Test;

import org.springframework.amqp.core.AnonymousQueue;
import org.springframework.amqp.core.BindingBuilder;
import org.springframework.amqp.core.Queue;
import org.springframework.amqp.core.TopicExchange;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ApplicationContext;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.header.HeaderWriterFilter;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.util.ReflectionTestUtils;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The REST intake as its clients meet it, in a worker with API keys configured (one from a secrets file, one from
 * properties) and a small body limit: load over every tier, the tiers' waiting lines and 429s, callers that
 * disconnect, keys, the one error shape, the OpenAPI document against what is served, and Camel header injection.
 */
class RestIntakeIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("rest");
    /** Outcomes are published mandatory: a listener bound to task.output.created, as a deployment has one. */
    static final EventInbox OUTPUTS = EventInbox.events(BROKER, "task.output.created");
    static final String FULL_KEY = "full-" + java.util.UUID.randomUUID();
    static final String LIMITED_KEY = "limited-" + java.util.UUID.randomUUID();
    static final List<String> TIERS = List.of("tiny", "small", "large", "coding", "frontier");
    static final Map<String, Integer> CONCURRENCY = Map.of("tiny", 10, "small", 5, "large", 2, "coding", 2, "frontier", 1);
    /** The committed defaults of worker.tiers.<tier>.max-waiting (config/application.yaml). */
    static final Map<String, Integer> MAX_WAITING = Map.of("tiny", 40, "small", 20, "large", 10, "coding", 10, "frontier", 5);
    static final long MAX_BODY = 64 * 1024;
    static final Duration EVENT_TIMEOUT = Duration.ofSeconds(30);

    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @Autowired
    CamelContext camelContext;

    @Autowired
    List<SecurityFilterChain> securityChains;

    @Autowired
    ApplicationContext context;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        registry.add("worker.api.keys-file", RestIntakeIT::keysFile);
        registry.add("worker.api.keys.limited.key", () -> LIMITED_KEY);
        registry.add("worker.api.keys.limited.tiers", () -> "tiny,small");
        registry.add("worker.api.max-body-size", () -> MAX_BODY + "B");
        registry.add("worker.api.retry-after", () -> "7s");
    }

    private static String keysFile() {
        try {
            Path file = Files.createTempFile("rest-it-keys", ".txt");
            Files.writeString(file, "# test keys\n" + FULL_KEY + ": *\n");
            file.toFile().deleteOnExit();
            return file.toString();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------------------------------------- load

    @Test
    void securityHeadersAreWrittenOnceBeforeTheRouteAnswersFromItsOwnThread() {
        HeaderWriterFilter headerWriter = securityFilters()
                .filter(HeaderWriterFilter.class::isInstance).map(HeaderWriterFilter.class::cast).findFirst().orElseThrow();
        // written lazily, Spring Security would add them from the route's thread and the container's at once
        assertThat(ReflectionTestUtils.getField(headerWriter, "shouldWriteHeadersEagerly")).isEqualTo(true);

        HttpResponse<String> refused = executeAsync("{not json", FULL_KEY).join();
        assertThat(refused.statusCode()).isEqualTo(400);
        assertThat(refused.headers().allValues("X-Content-Type-Options")).containsExactly("nosniff");
        assertThat(refused.headers().allValues("Cache-Control")).hasSize(1);
        HttpResponse<String> done = executeAsync(task("headers-once", "code-general", "Create fibonacci function"), FULL_KEY).join();
        assertThat(done.statusCode()).isEqualTo(200);
        assertThat(done.headers().allValues("X-Content-Type-Options")).containsExactly("nosniff");
        // programs keep no cookies: no CSRF token is made and set for them (Hawtio's pages still get one)
        assertThat(refused.headers().allValues("Set-Cookie")).isEmpty();
        assertThat(done.headers().allValues("Set-Cookie")).isEmpty();
        assertThat(get("/health").headers().allValues("Set-Cookie")).isEmpty();
        assertThat(get("/login").headers().allValues("Set-Cookie")).anyMatch(cookie -> cookie.startsWith("XSRF-TOKEN="));
    }

    /**
     * Without an OTLP endpoint a REST call pays for no tracing: no tracer, no OpenTelemetry tracer provider, and no
     * Spring Security observations around each filter (both were there before and cost a third of a REST call's CPU
     * in the benchmark), while the request metrics stay.
     */
    @Test
    void anUntracedWorkerMakesNoSpansAndNoSecurityObservationsButKeepsRequestMetrics() {
        assertThat(context.getBeanNamesForType(Tracer.class)).isEmpty();
        assertThat(context.getBeanNamesForType(SdkTracerProvider.class)).isEmpty();
        assertThat(context.getBeanNamesForType(TracingObservationHandler.class)).isEmpty();
        assertThat(securityFilters().map(filter -> filter.getClass().getName())).noneMatch(name -> name.contains("Observation"));

        assertThat(executeAsync(task("untraced-1", "code-general", "Create fibonacci function"), FULL_KEY).join()
                .statusCode()).isEqualTo(200);
        MeterRegistry meters = context.getBean(MeterRegistry.class);
        assertThat(meters.find("http.server.requests").tag("uri", "/api/v1/execute").timers()).isNotEmpty();
        assertThat(meters.getMeters()).noneMatch(meter -> meter.getId().getName().startsWith("spring.security"));
    }

    /** Every filter of the worker's security filter chains. */
    private Stream<Filter> securityFilters() {
        return securityChains.stream().flatMap(chain -> chain.getFilters().stream());
    }

    @Test
    void twoHundredConcurrentCallsKeepEachTiersBoundAnswer429BeyondItsLineAndLeaveHealthFast() throws Exception {
        Map<String, Integer> calls = new LinkedHashMap<>(Map.of("tiny", 30, "small", 50, "large", 40, "coding", 40, "frontier", 40));
        Duration tinyTime = Duration.ofSeconds(2);
        Duration callTime = Duration.ofSeconds(4);
        LLM.respondWith(call -> call.prompt().contains("probe-") ? Reply.text("```python\nfast = True\n```")
                : Reply.text("```python\nslow = True\n```").delayed(call.model().equals(MODELS.get("tiny")) ? tinyTime : callTime));
        // warm up the paths the burst takes (a long-running worker has them compiled): a task, a refusal, health
        for (int i = 0; i < 3; i++) {
            assertThat(executeAsync(json(Map.of("task_id", "probe-warm-" + i, "domain", "code-general", "tier", "small",
                    "description", "probe-warm")), FULL_KEY).join().statusCode()).isEqualTo(200);
            assertThat(executeAsync(task("warm-bad-" + i, "cooking", "x"), FULL_KEY).join().statusCode()).isEqualTo(400);
            assertThat(get("/health").statusCode()).isEqualTo(200);
        }
        LLM.reset();
        LLM.respondWith(call -> call.prompt().contains("probe-") ? Reply.text("```python\nfast = True\n```")
                : Reply.text("```python\nslow = True\n```").delayed(call.model().equals(MODELS.get("tiny")) ? tinyTime : callTime));

        Map<String, java.util.concurrent.atomic.AtomicInteger> maxRestWaiting = new java.util.concurrent.ConcurrentHashMap<>();
        AtomicBoolean polling = new AtomicBoolean(true);
        AtomicLong worstHealthNanos = new AtomicLong();
        AtomicLong worstControlNanos = new AtomicLong();
        AtomicLong worstExcessNanos = new AtomicLong();
        List<Integer> healthStatuses = java.util.Collections.synchronizedList(new ArrayList<>());
        // its own client: the 200 calls' client shares one selector thread, which would delay the probe client-side
        HttpClient healthClient = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        // the control: a trivial HTTP round trip to a loopback server outside the worker, right before each probe.
        // This machine has 2 cores shared with other builds (load averages of 20 were seen); what the machine's run
        // queue costs any request shows in the control, what the worker adds shows in the difference
        com.sun.net.httpserver.HttpServer control = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        control.createContext("/", exchange -> {
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        control.start();
        URI controlUri = URI.create("http://127.0.0.1:" + control.getAddress().getPort() + "/");
        long burstStart = System.nanoTime();
        Thread healthPoller = new Thread(() -> {
            while (polling.get()) {
                long controlStart = System.nanoTime();
                healthClient.sendAsync(HttpRequest.newBuilder(controlUri).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).join();
                long controlTook = System.nanoTime() - controlStart;
                long start = System.nanoTime();
                HttpResponse<String> health = healthClient.sendAsync(HttpRequest.newBuilder(uri("/health"))
                        .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString()).join();
                long took = System.nanoTime() - start;
                worstHealthNanos.accumulateAndGet(took, Math::max);
                worstControlNanos.accumulateAndGet(controlTook, Math::max);
                worstExcessNanos.accumulateAndGet(took - controlTook, Math::max);
                if (took > 300_000_000L) {
                    System.out.printf("slow /health: %d ms (control %d ms) at %d ms into the burst%n", took / 1_000_000,
                            controlTook / 1_000_000, (start - burstStart) / 1_000_000);
                }
                healthStatuses.add(health.statusCode());
                parse(health.body()).path("tiers").fields().forEachRemaining(tier -> maxRestWaiting
                        .computeIfAbsent(tier.getKey(), t -> new java.util.concurrent.atomic.AtomicInteger())
                        .accumulateAndGet(tier.getValue().path("rest_waiting").asInt(), Math::max));
                sleepQuietly(100);
            }
        }, "health-poller");
        healthPoller.start();

        Map<String, List<CompletableFuture<HttpResponse<String>>>> byTier = new LinkedHashMap<>();
        int n = 0;
        // interleave the tiers so that every tier's callers arrive throughout the burst
        for (int round = 0; n < 200; round++) {
            for (String tier : TIERS) {
                if (round < calls.get(tier)) {
                    String body = json(Map.of("task_id", "load-" + tier + "-" + round, "domain", "code-general",
                            "tier", tier, "description", "load " + tier + " " + round));
                    byTier.computeIfAbsent(tier, t -> new ArrayList<>()).add(executeAsync(body, FULL_KEY));
                    n++;
                    // the 200 starts are spread over one second: a herd started in the same millisecond makes ~200
                    // threads runnable at once on this 2-core machine (load generator and fake servers included),
                    // and then any request waits for CPU, whichever pool it runs on
                    sleepQuietly(5);
                }
            }
        }

        // the tiny tier's own calls are done while frontier calls are still running and waiting:
        // a tiny call now takes its own time only
        await().atMost(Duration.ofSeconds(60)).until(() -> byTier.get("tiny").stream().allMatch(CompletableFuture::isDone));
        assertThat(LLM.inFlight(MODELS.get("frontier"))).as("frontier busy while the tiny probes run").isEqualTo(1);
        long worstTinyNanos = 0;
        for (int probe = 0; probe < 3; probe++) {
            long start = System.nanoTime();
            HttpResponse<String> response = executeAsync(json(Map.of("task_id", "probe-" + probe, "domain", "code-general",
                    "tier", "tiny", "description", "probe-" + probe)), FULL_KEY).join();
            worstTinyNanos = Math.max(worstTinyNanos, System.nanoTime() - start);
            assertThat(response.statusCode()).isEqualTo(200);
        }
        JsonNode frontierLine = parse(get("/health").body()).path("tiers").path("frontier");
        assertThat(frontierLine.path("rest_waiting").asInt()).as("frontier callers still waiting").isPositive();

        CompletableFuture.allOf(byTier.values().stream().flatMap(List::stream).toArray(CompletableFuture[]::new))
                .get(3, java.util.concurrent.TimeUnit.MINUTES);
        polling.set(false);
        healthPoller.join();
        control.stop(0);

        int tooMany = 0;
        System.out.println("200 concurrent REST calls (tiny calls " + tinyTime.toSeconds() + " s, others "
                + callTime.toSeconds() + " s):");
        for (String tier : TIERS) {
            int ok = 0;
            int busy = 0;
            for (CompletableFuture<HttpResponse<String>> future : byTier.get(tier)) {
                HttpResponse<String> response = future.join();
                assertThat(response.statusCode()).as(tier + ": " + response.body()).isIn(200, 429);
                if (response.statusCode() == 429) {
                    busy++;
                    assertThat(response.headers().firstValue("Retry-After")).hasValue("7");
                    assertOneErrorShape(response, "tier_busy");
                    assertThat(parse(response.body()).path("task_id").asText()).startsWith("load-" + tier + "-");
                } else {
                    ok++;
                    assertThat(parse(response.body()).path("tier").asText()).isEqualTo(tier);
                }
            }
            tooMany += busy;
            String model = MODELS.get(tier);
            int mostWaiting = maxRestWaiting.getOrDefault(tier, new java.util.concurrent.atomic.AtomicInteger()).get();
            System.out.printf("  tier %-8s bound %2d, max-waiting %2d: %2d calls, max in flight %2d, most REST callers "
                            + "seen waiting %2d, 200: %2d, 429: %2d%n", tier, CONCURRENCY.get(tier), MAX_WAITING.get(tier),
                    calls.get(tier), LLM.maxInFlight(model), mostWaiting, ok, busy);
            assertThat(LLM.maxInFlight(model)).as("max in flight for " + tier).isEqualTo(CONCURRENCY.get(tier));
            assertThat(mostWaiting).as("REST callers waiting for " + tier).isLessThanOrEqualTo(MAX_WAITING.get(tier));
            // a caller waits from its admission (after validation) until its LLM call starts: at least a full line
            // is admitted, more when calls finish while callers still arrive
            assertThat(ok).as("admitted for " + tier).isGreaterThanOrEqualTo(Math.min(calls.get(tier), MAX_WAITING.get(tier)));
        }
        System.out.printf("  429 answers: %d; tiny-tier call while frontier was busy: worst %d ms; /health worst %d ms "
                        + "over %d polls (control round trip worst %d ms; /health beyond its control worst %d ms)%n",
                tooMany, worstTinyNanos / 1_000_000, worstHealthNanos.get() / 1_000_000, healthStatuses.size(),
                worstControlNanos.get() / 1_000_000, worstExcessNanos.get() / 1_000_000);
        assertThat(tooMany).as("the lines overflowed").isPositive();
        assertThat(healthStatuses).isNotEmpty().allMatch(status -> status == 200);
        // health never waits for a thread or for a tier (before this design it waited behind the tasks: > 30 s);
        // the bound is on what the worker adds to a trivial round trip on this machine at that moment: less than half
        // of one LLM call, which a /health that waited for a request thread or a tier would take at least
        assertThat(Duration.ofNanos(worstExcessNanos.get())).isLessThan(callTime.dividedBy(2));
        // a tiny call waits neither for a thread nor behind frontier calls: far less than one frontier call
        assertThat(Duration.ofNanos(worstTinyNanos)).isLessThan(callTime);
    }

    // ---------------------------------------------------------------------------------------------- disconnect

    @Test
    void aCallerThatDisconnectsWhileWaitingFreesItsPlaceAndItsTaskIsNotRun() throws Exception {
        LLM.respondWith(call -> Reply.text("```python\nheld = True\n```").delayed(Duration.ofSeconds(60)));
        List<CompletableFuture<HttpResponse<String>>> waiting = new ArrayList<>();
        waiting.add(executeAsync(frontierTask("held-running"), FULL_KEY));
        await().atMost(Duration.ofSeconds(10)).until(() -> LLM.inFlight(MODELS.get("frontier")) == 1);
        int max = MAX_WAITING.get("frontier");
        for (int i = 0; i < max - 1; i++) {
            waiting.add(executeAsync(frontierTask("held-waiting-" + i), FULL_KEY));
        }
        String goneBody = frontierTask("gone-caller");
        try (Socket socket = new Socket("127.0.0.1", port)) {
            OutputStream out = socket.getOutputStream();
            byte[] bytes = goneBody.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "X-API-Key: " + FULL_KEY + "\r\nContent-Length: " + bytes.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(bytes);
            out.flush();
            await().atMost(Duration.ofSeconds(10)).until(() -> restWaiting("frontier") == max);
            HttpResponse<String> full = executeAsync(frontierTask("turned-away"), FULL_KEY).join();
            assertThat(full.statusCode()).isEqualTo(429);
        }
        // the socket is closed: its place is free again, and another caller gets it
        await().atMost(Duration.ofSeconds(10)).until(() -> restWaiting("frontier") == max - 1);
        waiting.add(executeAsync(frontierTask("took-the-place"), FULL_KEY));
        await().atMost(Duration.ofSeconds(10)).until(() -> restWaiting("frontier") == max);

        LLM.respondWith(call -> Reply.text("```python\nreleased = True\n```"));
        LLM.releaseDelayed();
        for (CompletableFuture<HttpResponse<String>> response : waiting) {
            assertThat(response.get(60, java.util.concurrent.TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> restWaiting("frontier") == 0);
        assertThat(LLM.calls()).extracting(FakeLlmServerCalls::prompt).noneMatch(prompt -> prompt.contains("gone-caller"))
                .anyMatch(prompt -> prompt.contains("took-the-place"));
    }

    /** Method reference holder (LlmCall's prompt) that reads well in assertions. */
    interface FakeLlmServerCalls {
        static String prompt(io.dats.worker.support.FakeLlmServer.LlmCall call) {
            return call.prompt();
        }
    }

    private static String frontierTask(String id) {
        return json(Map.of("task_id", id, "domain", "code-general", "tier", "frontier", "description", "task " + id));
    }

    private int restWaiting(String tier) {
        return parse(get("/health").body()).path("tiers").path(tier).path("rest_waiting").asInt();
    }

    // ---------------------------------------------------------------------------------------------- keys

    @Test
    void apiKeysDecideWhoMayRunWhichTier() {
        String tinyTask = json(Map.of("task_id", "key-tiny", "domain", "code-general", "tier", "tiny", "description", "x"));
        HttpResponse<String> none = executeAsync(tinyTask, null).join();
        assertThat(none.statusCode()).isEqualTo(401);
        assertOneErrorShape(none, "unauthorized");
        assertThat(parse(none.body()).path("detail").asText()).contains("X-API-Key");
        HttpResponse<String> wrong = executeAsync(tinyTask, "not-a-key").join();
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertOneErrorShape(wrong, "unauthorized");

        HttpResponse<String> frontier = executeAsync(json(Map.of("task_id", "key-frontier", "domain", "code-general",
                "tier", "frontier", "description", "x")), LIMITED_KEY).join();
        assertThat(frontier.statusCode()).isEqualTo(403);
        assertOneErrorShape(frontier, "forbidden");
        assertThat(parse(frontier.body()).path("task_id").asText()).isEqualTo("key-frontier");
        // no tier in the body: the domain's default tier (ui-design -> large) decides
        HttpResponse<String> byDomain = executeAsync(json(Map.of("task_id", "key-default-tier", "domain", "ui-design",
                "description", "x")), LIMITED_KEY).join();
        assertThat(byDomain.statusCode()).isEqualTo(403);
        assertThat(parse(byDomain.body()).path("detail").asText()).contains("'large'");

        assertThat(executeAsync(tinyTask, LIMITED_KEY).join().statusCode()).isEqualTo(200);
        assertThat(executeAsync(json(Map.of("task_id", "key-full", "domain", "ui-design", "description", "x")), FULL_KEY)
                .join().statusCode()).isEqualTo(200);
        assertThat(LLM.calls()).hasSize(2);
        // health and the contract stay open
        assertThat(get("/health").statusCode()).isEqualTo(200);
        assertThat(get("/api/v1/health").statusCode()).isEqualTo(200);
        assertThat(get("/api/v1/openapi.json").statusCode()).isEqualTo(200);
    }

    // ---------------------------------------------------------------------------------------------- contract

    @Test
    void everyErrorStatusHasTheOneJsonShape() {
        HttpResponse<String> notJson = executeAsync("{not json", FULL_KEY).join();
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertOneErrorShape(notJson, "invalid_task");
        assertThat(parse(notJson.body()).path("detail").asText()).contains("not valid JSON");

        HttpResponse<String> missing = executeAsync(json(Map.of("task_id", "no-description", "domain", "code-general")), FULL_KEY).join();
        assertThat(missing.statusCode()).isEqualTo(400);
        assertOneErrorShape(missing, "invalid_task");
        assertThat(parse(missing.body()).path("detail").asText()).contains("description");
        assertThat(parse(missing.body()).path("task_id").asText()).isEqualTo("no-description");

        HttpResponse<String> wrongType = executeAsync(json(Map.of("task_id", "wrong-type", "domain", "code-general",
                "description", 42)), FULL_KEY).join();
        assertThat(wrongType.statusCode()).isEqualTo(400);
        assertThat(parse(wrongType.body()).path("detail").asText()).contains("description");
        assertThat(parse(wrongType.body()).path("task_id").asText()).isEqualTo("wrong-type");

        HttpResponse<String> domain = executeAsync(task("bad-domain", "cooking", "Bake"), FULL_KEY).join();
        assertThat(domain.statusCode()).isEqualTo(400);
        assertOneErrorShape(domain, "invalid_task");
        assertThat(parse(domain.body()).path("detail").asText()).contains("unknown domain 'cooking'").contains("code-general");
        assertThat(parse(domain.body()).path("task_id").asText()).isEqualTo("bad-domain");

        HttpResponse<String> tier = executeAsync(json(Map.of("task_id", "bad-tier", "domain", "code-general",
                "tier", "gigantic", "description", "x")), FULL_KEY).join();
        assertThat(tier.statusCode()).isEqualTo(400);
        assertThat(parse(tier.body()).path("detail").asText()).contains("unknown tier 'gigantic'").contains("frontier");
        assertThat(parse(tier.body()).path("task_id").asText()).isEqualTo("bad-tier");

        for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded"}) {
            HttpResponse<String> unsupported = send(HttpRequest.newBuilder(uri("/api/v1/execute")).header("Content-Type", type)
                    .header("X-API-Key", FULL_KEY).POST(HttpRequest.BodyPublishers.ofString("task_id=x&domain=y")).build());
            assertThat(unsupported.statusCode()).as(type).isEqualTo(415);
            assertOneErrorShape(unsupported, "unsupported_media_type");
            assertThat(parse(unsupported.body()).path("detail").asText()).contains("application/json");
        }

        String big = json(Map.of("task_id", "too-big", "domain", "code-general", "description", "x".repeat((int) MAX_BODY)));
        HttpResponse<String> declared = executeAsync(big, FULL_KEY).join();
        assertThat(declared.statusCode()).isEqualTo(413);
        assertOneErrorShape(declared, "payload_too_large");
        // a chunked body (no Content-Length) is refused once the limit is passed
        HttpResponse<String> chunked = send(HttpRequest.newBuilder(uri("/api/v1/execute"))
                .header("Content-Type", "application/json").header("X-API-Key", FULL_KEY)
                .POST(HttpRequest.BodyPublishers.ofInputStream(() ->
                        new java.io.ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8)))).build());
        assertThat(chunked.statusCode()).isEqualTo(413);
        assertOneErrorShape(chunked, "payload_too_large");

        // under /api/v1 an unknown path needs a key like any task endpoint (no key: 401, revealing nothing)
        assertThat(get("/api/v1/nothing-here").statusCode()).isEqualTo(401);
        HttpResponse<String> unknown = send(HttpRequest.newBuilder(uri("/api/v1/nothing-here")).header("X-API-Key", FULL_KEY)
                .GET().build());
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertOneErrorShape(unknown, "not_found");

        HttpResponse<String> getExecute = send(HttpRequest.newBuilder(uri("/api/v1/execute")).header("X-API-Key", FULL_KEY)
                .GET().build());
        assertThat(getExecute.statusCode()).isEqualTo(405);
        assertOneErrorShape(getExecute, "method_not_allowed");
        HttpResponse<String> postHealth = send(HttpRequest.newBuilder(uri("/health"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build());
        assertThat(postHealth.statusCode()).isEqualTo(405);
        assertOneErrorShape(postHealth, "method_not_allowed");
        assertThat(LLM.calls()).isEmpty();
    }

    @Test
    void theOpenApiDocumentDescribesExactlyTheServedEndpoints() throws Exception {
        HttpResponse<String> served = get("/api/v1/openapi.json");
        assertThat(served.statusCode()).isEqualTo(200);
        JsonNode document = parse(served.body());
        try (var in = getClass().getClassLoader().getResourceAsStream("openapi/worker-api.json")) {
            assertThat(document).isEqualTo(MAPPER.readTree(in));
        }
        assertThat(document.path("openapi").asText()).startsWith("3.");

        Set<String> documented = new HashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> paths = document.path("paths").fields(); paths.hasNext(); ) {
            Map.Entry<String, JsonNode> path = paths.next();
            for (Iterator<String> methods = path.getValue().fieldNames(); methods.hasNext(); ) {
                String method = methods.next().toUpperCase();
                documented.add(method + " " + path.getKey());
                // each documented operation answers with a documented status: a valid task on execute (first in the
                // document), the operation's examples for path parameters and bodies, the admin user where the
                // document says so
                JsonNode operation = path.getValue().path(method.toLowerCase());
                String target = path.getKey();
                for (JsonNode parameter : operation.path("parameters")) {
                    if ("path".equals(parameter.path("in").asText())) {
                        target = target.replace("{" + parameter.path("name").asText() + "}", parameter.path("example").asText());
                    }
                }
                JsonNode example = operation.path("requestBody").path("content").path("application/json").path("example");
                String body = example.isMissingNode() ? task("openapi-check", "documentation", "Doc it") : example.toString();
                HttpRequest.Builder request = HttpRequest.newBuilder(uri(target)).header("X-API-Key", FULL_KEY)
                        .header("Content-Type", "application/json")
                        .method(method, "POST".equals(method)
                                ? HttpRequest.BodyPublishers.ofString(body)
                                : HttpRequest.BodyPublishers.noBody());
                if (operation.path("security").toString().contains("adminBasic")) {
                    request.header("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString(
                            (ADMIN_USER + ":" + ADMIN_PASSWORD).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                }
                HttpResponse<String> response = send(request.build());
                assertThat(response.statusCode()).as(method + " " + path.getKey()).isEqualTo(200);
                assertThat(path.getValue().path(method.toLowerCase()).path("responses").has("200")).isTrue();
            }
        }
        Set<String> routes = new HashSet<>();
        for (RestDefinition rest : ((ModelCamelContext) camelContext).getRestDefinitions()) {
            for (VerbDefinition verb : rest.getVerbs()) {
                String base = rest.getPath() == null ? "" : rest.getPath();
                String path = verb.getPath() == null ? "" : verb.getPath();
                routes.add(verb.asVerb().toUpperCase() + " " + (base + path).replace("//", "/"));
            }
        }
        // POST /v1/infer streams Server-Sent Events, so it is a Spring MVC endpoint, not a Camel REST route
        routes.add("POST /v1/infer");
        assertThat(documented).isEqualTo(routes);
        // every status the API answers with is documented for the task endpoint
        JsonNode execute = document.path("paths").path("/api/v1/execute").path("post").path("responses");
        for (String status : List.of("200", "400", "401", "403", "405", "413", "415", "429", "500", "502", "503", "504")) {
            assertThat(execute.has(status)).as(status).isTrue();
        }
    }

    // ---------------------------------------------------------------------------------------------- injection

    @Test
    void camelHeadersAndQueryParametersSentOverRestHaveNoEffect() {
        EventInbox outputs = EventInbox.events(BROKER, "task.output.created");
        EventInbox hijackedKey = EventInbox.events(BROKER, "hijacked");
        TopicExchange other = new TopicExchange("hijack.exchange", false, true);
        BROKER.admin.declareExchange(other);
        Queue otherQueue = new AnonymousQueue();
        BROKER.admin.declareQueue(otherQueue);
        BROKER.admin.declareBinding(BindingBuilder.bind(otherQueue).to(other).with("#"));
        try {
            String query = "?CamelSpringRabbitmqExchangeOverrideName=hijack.exchange&camelspringrabbitmqroutingoverridekey=hijacked"
                    + "&cAmElHttpUri=http%3A%2F%2F127.0.0.1%3A1%2Fevil&CamelHttpResponseCode=299";
            HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/api/v1/execute" + query))
                    .header("Content-Type", "application/json").header("X-API-Key", FULL_KEY)
                    .header("CamelSpringRabbitmqExchangeOverrideName", "hijack.exchange")
                    .header("camelSpringRabbitmqRoutingOverrideKey", "hijacked")
                    .header("cAmElHttpUri", "http://127.0.0.1:1/evil")
                    .header("CAMELHTTPMETHOD", "DELETE")
                    .header("CamelHttpResponseCode", "299")
                    .header("CamelLangchain4jChatAugmentedData", "injected")
                    .POST(HttpRequest.BodyPublishers.ofString(task("inject-1", "code-general", "Hello"))).build());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(parse(response.body()).path("rag").asText()).isEqualTo("used");
            assertThat(response.headers().map().keySet()).noneMatch(name -> name.toLowerCase().startsWith("camel"));
            assertThat(outputs.awaitJson("inject-1", EVENT_TIMEOUT).path("status").asText()).isEqualTo("completed");
            assertThat(RAG.requests()).anyMatch(request -> request.path("task_id").asText().equals("inject-1"));
            assertThat(LLM.calls()).singleElement().satisfies(call -> assertThat(call.prompt()).doesNotContain("injected"));
            assertThat(hijackedKey.received()).isEmpty();
            assertThat(BROKER.messageCount(otherQueue.getName())).isZero();
        } finally {
            BROKER.admin.deleteQueue(otherQueue.getName());
            BROKER.admin.deleteExchange(other.getName());
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    static void assertOneErrorShape(HttpResponse<String> response, String error) {
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(type ->
                assertThat(type).startsWith("application/json"));
        JsonNode body = parse(response.body());
        List<String> fields = new ArrayList<>();
        body.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).as(response.body()).containsExactly("error", "detail", "task_id");
        assertThat(body.path("error").asText()).isEqualTo(error);
        assertThat(body.path("detail").asText()).isNotBlank();
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    CompletableFuture<HttpResponse<String>> executeAsync(String body, String key) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri("/api/v1/execute")).timeout(Duration.ofMinutes(3))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
        if (key != null) {
            request.header("X-API-Key", key);
        }
        return CLIENT.sendAsync(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) {
        return send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build());
    }

    @Override
    HttpResponse<String> send(HttpRequest request) {
        return CLIENT.sendAsync(request, HttpResponse.BodyHandlers.ofString()).join();
    }

    /** Paces the health poller (not a wait for a condition). */
    private static void sleepQuietly(long millis) {
        java.util.concurrent.locks.LockSupport.parkNanos(Duration.ofMillis(millis).toNanos());
    }
}
