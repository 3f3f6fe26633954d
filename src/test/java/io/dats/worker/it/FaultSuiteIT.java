package io.dats.worker.it;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import io.dats.worker.support.FakeRagServer;
import io.dats.worker.support.FakeRagServer.RagReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.amqp.core.Message;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The fault suite: the built worker jar against the machine's RabbitMQ (a fresh virtual host per worker), the LLM and
 * RAG services as loopback servers of this JVM; one fault per scenario; every scenario publishes uniquely identified
 * tasks with confirms and checks every confirmed id ends with exactly one kind of outcome (see {@link FaultRun}).
 * CI runs a short batch; the long run: {@code ./mvnw -B verify -Dtest=none -Dit.test=FaultSuiteIT -Dfaults.tasks=2000
 * -Dfaults.outage=60s}.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FaultSuiteIT {

    static final int TASKS = Integer.getInteger("faults.tasks", 40);
    static final Duration OUTAGE = Duration.parse("PT" + System.getProperty("faults.outage", "6s").toUpperCase());
    static final Duration SETTLE = Duration.ofSeconds(3);
    static final Duration STALL = Duration.ofSeconds(Math.max(60, OUTAGE.toSeconds() * 2));
    static final Duration LLM_TIMEOUT = Duration.ofSeconds(2);
    static final Duration REPLY_TIME = Duration.ofMillis(50);

    static final FakeLlmServer LLM = new FakeLlmServer().start();
    static final FakeRagServer RAG = new FakeRagServer().start();
    static final TestBroker BROKER = TestBroker.named("faults");
    /** Task ids and task stores are this run's own (a file task store outlives the run). */
    static final String RUN = java.util.UUID.randomUUID().toString().substring(0, 8);
    static WorkerJar shared;

    /** The worker's settings for a virtual host: small (4 calls) and tiny (4 calls) tiers, 2 s timeout, short backoff. */
    static Map<String, String> workerArguments(String name, String host, int port, String vhost) {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("spring.rabbitmq.host", host);
        args.put("spring.rabbitmq.port", Integer.toString(port));
        args.put("spring.rabbitmq.virtual-host", vhost);
        // a file task store, so that a restarted worker knows what its predecessor completed
        args.put("spring.datasource.url", "jdbc:h2:file:./" + Path.of("target", "faults", RUN, name, "store")
                + ";DB_CLOSE_ON_EXIT=FALSE");
        args.put("worker.rag.url", RAG.url());
        args.put("worker.rag.timeout", "1s");
        args.put("worker.retry.initial-delay", "100ms");
        args.put("worker.retry.max-delay", "500ms");
        args.put("worker.shutdown.drain-timeout", "20s");
        for (String tier : new String[] {"small", "tiny"}) {
            args.put("worker.tiers." + tier + ".base-url", LLM.ollamaBaseUrl());
            args.put("worker.tiers." + tier + ".concurrency", "4");
            args.put("worker.tiers." + tier + ".timeout", LLM_TIMEOUT.toSeconds() + "s");
            args.put("worker.tiers." + tier + ".max-attempts", "3");
            args.put("worker.tiers." + tier + ".circuit-open-for", "2s");
        }
        // tiny is the outage scenario's tier: its circuit opens after 5 outage attempts, before a task's third attempt
        args.put("worker.tiers.tiny.circuit-window", "10");
        args.put("worker.tiers.tiny.circuit-minimum-calls", "5");
        return args;
    }

    static WorkerJar shared() {
        if (shared == null) {
            shared = WorkerJar.start("faults-shared", workerArguments("shared", BROKER.host, BROKER.port, BROKER.vhost));
        }
        return shared;
    }

    static FaultRun run(String scenario, TestBroker broker, boolean bindOutputs) {
        return new FaultRun(scenario, broker.host, broker.port, broker.vhost, bindOutputs);
    }

    static String id(String scenario, int i) {
        return scenario + "-" + RUN + "-" + i;
    }

    static Reply normal() {
        return Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(REPLY_TIME);
    }

    @AfterAll
    static void stop() {
        if (shared != null) {
            shared.close();
        }
        BROKER.close();
        LLM.close();
        RAG.close();
    }

    @Test
    @Order(1)
    void llmAnswering20PercentErrorsAnd5PercentSlowerThanTheTimeout() {
        shared();
        LLM.respondWith(call -> {
            double r = ThreadLocalRandom.current().nextDouble();
            if (r < 0.20) {
                return Reply.error(500, "overloaded");
            }
            if (r < 0.25) {
                return Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(LLM_TIMEOUT.plusSeconds(1));
            }
            return normal();
        });
        try (FaultRun run = run("llm-flaky", BROKER, true)) {
            run.publish(TASKS, "small", i -> FaultRun.task(id("llm-flaky", i), "small"));
            run.awaitQuiet(SETTLE, STALL);
            // a task whose three attempts all failed (0.25^3 of them) fails with its reason: that is an outcome
            run.allowFailures();
            run.check(false);
        }
    }

    @Test
    @Order(2)
    void fullLlmOutageMakesTasksWaitNotDeadLetter() {
        shared();
        AtomicBoolean down = new AtomicBoolean(false);
        LLM.respondWith(call -> down.get() ? Reply.error(503, "service unavailable") : normal());
        try (FaultRun run = run("llm-outage", BROKER, true)) {
            CompletableFuture<Void> publishing = CompletableFuture.runAsync(() ->
                    run.publish(TASKS, "tiny", i -> FaultRun.task(id("llm-outage", i), "tiny")));
            await().atMost(STALL).until(() -> run.accounted() >= TASKS / 4);
            down.set(true);
            // the outage lasts OUTAGE, and no task fails or is dead-lettered while it does
            await().during(OUTAGE).atMost(OUTAGE.plusSeconds(30)).until(() -> run.failuresSoFar() == 0);
            down.set(false);
            publishing.join();
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        }
    }

    @Test
    @Order(3)
    void ragServiceDownForAWhile() {
        shared();
        LLM.respondWith(call -> normal());
        RAG.respondWith(request -> RagReply.empty());
        try (FaultRun run = run("rag-down", BROKER, true)) {
            CompletableFuture<Void> publishing = CompletableFuture.runAsync(() ->
                    run.publish(TASKS, "small", i -> FaultRun.task(id("rag-down", i), "small")));
            await().atMost(STALL).until(() -> run.accounted() >= TASKS / 4);
            // down as a stopped service is: its port closed, every call refused
            RAG.stopListening();
            long before = run.accounted();
            // the outage lasts OUTAGE, and no task fails or is dead-lettered while it does
            await().during(OUTAGE).atMost(OUTAGE.plusSeconds(30)).until(() -> run.failuresSoFar() == 0);
            System.out.printf("faults rag-down: %d outcomes while the RAG port was closed for %d s%n",
                    run.accounted() - before, OUTAGE.toSeconds());
            RAG.listenAgain();
            publishing.join();
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        } finally {
            RAG.reset();
        }
    }

    @Test
    @Order(4)
    void twoPercentMalformedMessagesEndFailedWithAReason() {
        shared();
        LLM.respondWith(call -> normal());
        int step = Math.max(1, Math.min(50, TASKS / 4));
        try (FaultRun run = run("malformed", BROKER, true)) {
            run.publish(TASKS, "small", i -> {
                String id = id("malformed", i);
                if (i % step != 0) {
                    return FaultRun.task(id, "small");
                }
                return switch ((i / step) % 4) {
                    case 0 -> {
                        run.expectFailure(id);
                        yield FaultRun.message(id, "this is not JSON {\"task_id\":");
                    }
                    case 1 -> {
                        run.expectFailure(id);
                        yield FaultRun.message(id, "{\"task_id\":\"" + id + "\",\"domain\":\"code-general\"}");
                    }
                    case 2 -> {
                        run.expectFailure(id);
                        yield FaultRun.message(id, "{\"task_id\":\"" + id + "\",\"domain\":\"code-general\","
                                + "\"description\":\"" + "x".repeat(150_000) + "\"}");
                    }
                    default -> {
                        // Camel* headers in mixed case are stripped at the intake: the task runs as if they were absent
                        Message message = FaultRun.task(id, "small");
                        message.getMessageProperties().setHeader("cAmElSpringRabbitmqExchangeOverrideName", "nowhere");
                        message.getMessageProperties().setHeader("CAMELSPRINGRABBITMQROUTINGOVERRIDEKEY", "nothing");
                        message.getMessageProperties().setHeader("camelHttpUri", "http://127.0.0.1:1/");
                        yield message;
                    }
                };
            });
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        }
    }

    @Test
    @Order(5)
    void noConsumerBoundToTaskOutputCreated() {
        shared();
        LLM.respondWith(call -> normal());
        TestBroker.rabbitmqctl("set_policy", "-p", BROKER.vhost, "--apply-to", "exchanges", "task-events-unrouted",
                "^task\\.events$", "{\"alternate-exchange\":\"task.unrouted\"}");
        try (FaultRun run = run("no-consumer", BROKER, false)) {
            run.publish(TASKS, "small", i -> FaultRun.task(id("no-consumer", i), "small"));
            run.awaitQuiet(SETTLE, STALL);
            run.check(true);
        } finally {
            TestBroker.rabbitmqctl("clear_policy", "-p", BROKER.vhost, "task-events-unrouted");
        }
    }

    @Test
    @Order(6)
    void workerSigkilledThreeTimesMidBatch() {
        TestBroker broker = TestBroker.named("faults-kill");
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(Duration.ofMillis(200)));
        WorkerJar worker = WorkerJar.start("faults-kill", workerArguments("kill", broker.host, broker.port, broker.vhost));
        try (FaultRun run = run("worker-kill", broker, true)) {
            run.publish(TASKS, "small", i -> FaultRun.task(id("worker-kill", i), "small"));
            for (int kill = 1; kill <= 3; kill++) {
                int mark = TASKS * kill / 4;
                await().atMost(STALL).until(() -> run.accounted() >= mark);
                long pid = worker.pid();
                worker.kill();
                System.out.printf("faults worker-kill: SIGKILL %d to pid %d at %d/%d outcomes%n", kill, pid,
                        run.accounted(), TASKS);
                worker = worker.restart();
            }
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        } finally {
            worker.close();
            broker.close();
        }
    }

    @Test
    @Order(7)
    void sigtermUnderLoadDrainsTheTasksInFlight() {
        TestBroker broker = TestBroker.named("faults-sigterm");
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(Duration.ofMillis(500)));
        WorkerJar worker = WorkerJar.start("faults-sigterm",
                workerArguments("sigterm", broker.host, broker.port, broker.vhost));
        try (FaultRun run = run("sigterm", broker, true)) {
            run.publish(TASKS, "small", i -> FaultRun.task(id("sigterm", i), "small"));
            await().atMost(STALL).until(() -> run.accounted() >= TASKS / 4);
            Duration drain = worker.terminate(Duration.ofSeconds(60));
            run.drainTime(drain);
            assertThat(worker.alive()).isFalse();
            worker = worker.restart();
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        } finally {
            worker.close();
            broker.close();
        }
    }

    @Test
    @Order(8)
    void brokerNodeRestartedMidBatch() {
        // its own RabbitMQ node (own name, port and folder): the machine's broker is shared with other tests
        OwnRabbitNode node = OwnRabbitNode.start("faults-broker");
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(Duration.ofMillis(200)));
        WorkerJar worker = WorkerJar.start("faults-broker", workerArguments("broker", "127.0.0.1", node.port(), "/"));
        try (FaultRun run = new FaultRun("broker-restart", "127.0.0.1", node.port(), "/", true)) {
            CompletableFuture<Void> publishing = CompletableFuture.runAsync(() ->
                    run.publish(TASKS, "small", i -> FaultRun.task(id("broker-restart", i), "small")));
            await().atMost(STALL).until(() -> run.accounted() >= TASKS / 4);
            node.stop();
            node.start();
            publishing.join();
            run.awaitQuiet(SETTLE, STALL);
            run.check(false);
        } finally {
            worker.close();
            node.close();
        }
    }
}
