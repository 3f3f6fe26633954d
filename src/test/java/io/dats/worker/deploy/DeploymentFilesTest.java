package io.dats.worker.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import io.dats.worker.config.WorkerProperties;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import org.springframework.boot.convert.DurationStyle;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/k8s/) against the application's configuration
 * (config/application.yaml): ports, probe paths, mounted folders, environment variable names, the termination grace
 * against the drain budget, and the KEDA queues against the configured tiers. No container engine is needed: the files
 * are parsed.
 */
class DeploymentFilesTest {

    static final Path ROOT = Path.of("").toAbsolutePath();
    static final Map<String, Object> CONFIG = yaml(ROOT.resolve("config/application.yaml"));
    static final String CONFIG_TEXT = read(ROOT.resolve("config/application.yaml"));
    static final String DOCKERFILE = read(ROOT.resolve("Dockerfile"));
    static final Map<String, Object> COMPOSE = yaml(ROOT.resolve("docker-compose.yml"));
    static final List<Map<String, Object>> K8S = k8sDocuments();

    /**
     * Variables read by Spring Boot itself (properties config/application.yaml does not spell out), the JVM and DJL.
     */
    static final Set<String> RUNTIME_ENV = Set.of(
            "SPRING_PROFILES_ACTIVE",                    // the json-logs profile
            "SPRING_SECURITY_USER_NAME",                 // the admin user (named in application.yaml's comment)
            "SPRING_SECURITY_USER_PASSWORD",
            "MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED", // the liveness and readiness groups outside Kubernetes too
            "JAVA_TOOL_OPTIONS",                         // read by the JVM
            "DJL_CACHE_DIR");                            // the embedded RAG tokenizer's native library (DJL)

    // --- Dockerfile ---

    @Test
    void imageExposesAndChecksTheServerPort() {
        int port = serverPort();
        assertThat(instructions("EXPOSE")).containsExactly(String.valueOf(port));
        assertThat(dockerEnv()).containsEntry("SERVER_PORT", String.valueOf(port));
        String healthcheck = String.join(" ", instructions("HEALTHCHECK"));
        assertThat(healthcheck).contains("http://127.0.0.1:" + port + "/actuator/health/readiness");
        assertProbeGroupConfigured("readiness", dockerEnv());
    }

    @Test
    void imageRunsTheLayeredJarAsNonRootFromTheFoldersTheConfigurationReads() {
        assertThat(DOCKERFILE).contains("-Djarmode=tools", "extract --layers --launcher");
        for (String layer : List.of("dependencies", "spring-boot-loader", "snapshot-dependencies", "application")) {
            assertThat(instructions("COPY")).contains("--from=build /layers/" + layer + "/ ./");
        }
        String workdir = lastOf(instructions("WORKDIR"));
        assertThat(workdir).isEqualTo("/app");
        assertThat(instructions("COPY")).contains(routesFolder() + "/ " + routesFolder() + "/",
                templateDir() + "/ " + templateDir() + "/", "config/ config/");
        String user = lastOf(instructions("USER"));
        assertThat(user).doesNotStartWith("0").isNotEqualTo("root");
        assertThat(lastOf(instructions("ENTRYPOINT")))
                .isEqualTo("[\"java\", \"org.springframework.boot.loader.launch.JarLauncher\"]");
    }

    @Test
    void imageLogsJsonByDefault() {
        assertThat(dockerEnv().get("SPRING_PROFILES_ACTIVE")).isEqualTo("json-logs");
        Map<String, String> compose = stringMap(map(map(COMPOSE.get("services")).get("worker")).get("environment"));
        assertThat(compose.get("SPRING_PROFILES_ACTIVE")).isEqualTo("json-logs");
        assertThat(k8sEnv().get("SPRING_PROFILES_ACTIVE")).isEqualTo("json-logs");
    }

    @Test
    void profilesTheDeploymentsActivateExist() {
        Map<String, String> compose = stringMap(map(map(COMPOSE.get("services")).get("worker")).get("environment"));
        for (String profiles : List.of(dockerEnv().get("SPRING_PROFILES_ACTIVE"), compose.get("SPRING_PROFILES_ACTIVE"),
                k8sEnv().get("SPRING_PROFILES_ACTIVE"))) {
            assertProfilesExist(profiles);
        }
    }

    @Test
    void imageSetsOnlyVariablesTheApplicationReads() {
        assertThat(dockerEnv().keySet()).allSatisfy(DeploymentFilesTest::assertRead);
    }

    // --- docker-compose.yml ---

    @Test
    void composeRunsTheWorkerWithItsServices() {
        Map<String, Object> services = map(COMPOSE.get("services"));
        assertThat(services).containsKeys("rabbitmq", "ollama", "worker", "prometheus", "grafana");
        assertThat(string(map(services.get("rabbitmq")).get("image"))).contains("management");
        Map<String, Object> worker = map(services.get("worker"));
        assertThat(list(worker.get("ports"))).contains("8080:" + serverPort());
        Map<String, String> env = stringMap(worker.get("environment"));
        assertThat(env.keySet()).allSatisfy(DeploymentFilesTest::assertRead);
        assertThat(env).containsEntry("RABBITMQ_HOST", "rabbitmq").containsEntry("SERVER_PORT", String.valueOf(serverPort()));
        // every Ollama tier is served by the compose Ollama
        for (Map.Entry<String, Object> tier : tiers().entrySet()) {
            if ("ollama".equals(map(tier.getValue()).get("provider"))) {
                assertThat(env).as(tier.getKey()).containsEntry(tierEnv(tier.getKey(), "base-url"), "http://ollama:11434");
            }
        }
        assertThat(list(worker.get("volumes"))).contains("./" + routesFolder() + ":/app/" + routesFolder() + ":ro",
                "./" + templateDir() + ":/app/" + templateDir() + ":ro");
        assertThat(DurationStyle.detectAndParse(string(worker.get("stop_grace_period")))).isGreaterThanOrEqualTo(drainBudget());
    }

    @Test
    void composeScrapesAndGraphsTheWorker() {
        Map<String, Object> services = map(COMPOSE.get("services"));
        Map<String, Object> prometheusService = map(services.get("prometheus"));
        assertThat(list(prometheusService.get("volumes")))
                .contains("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
        List<String> grafana = list(map(services.get("grafana")).get("volumes"));
        assertThat(grafana).contains("./deploy/grafana:/var/lib/grafana/dashboards:ro")
                .anyMatch(v -> v.contains(":/etc/grafana/provisioning/datasources/"))
                .anyMatch(v -> v.contains(":/etc/grafana/provisioning/dashboards/"));
        // the metrics helper's files (deploy/prometheus, deploy/grafana), once they are there
        Path prometheus = ROOT.resolve("deploy/prometheus/prometheus.yml");
        if (Files.exists(prometheus)) {
            Map<String, Object> job = map(list(yaml(prometheus).get("scrape_configs")).get(0));
            assertThat(job.get("metrics_path")).isEqualTo("/actuator/prometheus");
            assertThat(read(prometheus)).contains("worker:" + serverPort());
            Map<String, Object> auth = map(job.get("basic_auth"));
            Map<String, String> workerEnv = stringMap(map(services.get("worker")).get("environment"));
            assertThat(auth.get("username")).isEqualTo(workerEnv.get("SPRING_SECURITY_USER_NAME"));
            List<Object> secrets = list(prometheusService.get("secrets"));
            assertThat(secrets).anyMatch(secret -> auth.get("password_file").equals(map(secret).get("target")));
            for (String volume : grafana) {
                assertThat(ROOT.resolve(volume.substring(2, volume.indexOf(':')))).as(volume).exists();
            }
            assertThat(ROOT.resolve("deploy/grafana/llm-task-worker.json")).exists();
        }
    }

    // --- deploy/k8s ---

    @Test
    void kubernetesProbesUseTheActuatorHealthGroupsOnTheServerPort() {
        Map<String, Object> container = container();
        Map<String, String> env = k8sEnv();
        assertThat(map(list(container.get("ports")).get(0))).containsEntry("containerPort", serverPort())
                .containsEntry("name", "http");
        assertThat(probe(container, "livenessProbe")).isEqualTo("/actuator/health/liveness");
        assertThat(probe(container, "startupProbe")).isEqualTo("/actuator/health/liveness");
        assertThat(probe(container, "readinessProbe")).isEqualTo("/actuator/health/readiness");
        assertProbeGroupConfigured("liveness", env);
        assertProbeGroupConfigured("readiness", env);
        Map<String, Object> port = map(list(map(kind("Service").get("spec")).get("ports")).get(0));
        assertThat(port).containsEntry("port", serverPort()).containsEntry("targetPort", "http");
    }

    @Test
    void kubernetesMountsRoutesAndTemplatesWhereTheConfigurationReadsThem() {
        Map<String, String> mounts = new LinkedHashMap<>();
        for (Object mount : list(container().get("volumeMounts"))) {
            mounts.put(string(map(mount).get("mountPath")), string(map(mount).get("name")));
        }
        Map<String, Map<String, Object>> volumes = new LinkedHashMap<>();
        for (Object volume : list(podSpec().get("volumes"))) {
            volumes.put(string(map(volume).get("name")), map(volume));
        }
        String routesConfigMap = string(map(volumes.get(mounts.get("/app/" + routesFolder())).get("configMap")).get("name"));
        String templatesConfigMap = string(map(volumes.get(mounts.get("/app/" + templateDir())).get("configMap")).get("name"));
        String script = read(ROOT.resolve("deploy/k8s/configmaps"));
        assertThat(script).contains("create configmap " + routesConfigMap + " --from-file=" + routesFolder() + "/",
                "create configmap " + templatesConfigMap + " --from-file=" + templateDir() + "/");
        // the working folders the worker writes: the task store and RAG index (data/), the JVM's and Tomcat's /tmp
        assertThat(mounts).containsKeys("/app/data", "/tmp");
        String keysFile = k8sEnv().get("WORKER_API_KEYS_FILE");
        assertThat(mounts.keySet()).anyMatch(path -> keysFile.startsWith(path + "/"));
    }

    @Test
    void kubernetesSetsOnlyVariablesTheApplicationReads() {
        assertThat(k8sEnv().keySet()).allSatisfy(DeploymentFilesTest::assertRead);
        // every tier with a provider that needs a key gets one from the Secret
        for (Map.Entry<String, Object> tier : tiers().entrySet()) {
            Object provider = map(tier.getValue()).get("provider");
            if ("openai".equals(provider) || "anthropic".equals(provider)) {
                assertThat(k8sEnv()).containsKey(tierEnv(tier.getKey(), "api-key"));
            }
        }
    }

    @Test
    void terminationGraceCoversTheDrainBudget() {
        long grace = ((Number) podSpec().get("terminationGracePeriodSeconds")).longValue();
        long preStop = 0;
        Object lifecycle = container().get("lifecycle");
        if (lifecycle != null) {
            List<String> command = list(map(map(map(lifecycle).get("preStop")).get("exec")).get("command"));
            preStop = "sleep".equals(command.get(0)) ? Long.parseLong(command.get(1)) : 0;
        }
        // GracefulShutdown: the listener containers wait the budget, Camel 5 s longer
        long needed = drainBudget().toSeconds() + 5 + preStop;
        assertThat(grace).isGreaterThanOrEqualTo(needed);
    }

    @Test
    void kedaScalesOnEveryConfiguredTiersQueue() {
        Map<String, Object> scaled = kind("ScaledObject");
        Map<String, Object> spec = map(scaled.get("spec"));
        assertThat(map(spec.get("scaleTargetRef")).get("name")).isEqualTo(map(kind("Deployment").get("metadata")).get("name"));
        String prefix = string(map(worker().get("broker")).get("queue-prefix"));
        Map<String, Integer> queues = new LinkedHashMap<>();
        for (Object trigger : list(spec.get("triggers"))) {
            assertThat(map(trigger).get("type")).isEqualTo("rabbitmq");
            Map<String, Object> metadata = map(map(trigger).get("metadata"));
            queues.put(string(metadata.get("queueName")), Integer.parseInt(string(metadata.get("value"))));
            String auth = string(map(map(trigger).get("authenticationRef")).get("name"));
            assertThat(map(kind("TriggerAuthentication").get("metadata")).get("name")).isEqualTo(auth);
        }
        Map<String, Integer> expected = new LinkedHashMap<>();
        tiers().forEach((tier, settings) -> expected.put(prefix + tier, (Integer) map(settings).get("concurrency")));
        assertThat(queues).isEqualTo(expected);
    }

    // --- the application's configuration ---

    static int serverPort() {
        return Integer.parseInt(defaultOf(string(map(CONFIG.get("server")).get("port"))));
    }

    static Map<String, Object> worker() {
        return map(CONFIG.get("worker"));
    }

    static Map<String, Object> tiers() {
        return map(worker().get("tiers"));
    }

    /** The folder of camel.main.routes-include-pattern (file:routes/*.camel.yaml). */
    static String routesFolder() {
        String pattern = string(map(map(CONFIG.get("camel")).get("main")).get("routes-include-pattern"));
        assertThat(pattern).startsWith("file:");
        return pattern.substring("file:".length(), pattern.lastIndexOf('/'));
    }

    static String templateDir() {
        return string(worker().get("template-dir"));
    }

    /** GracefulShutdown's budget when worker.shutdown.drain-timeout is unset: longest tier timeout + RAG timeout + 15 s. */
    static Duration drainBudget() {
        Duration longest = tiers().values().stream().map(t -> DurationStyle.detectAndParse(string(map(t).get("timeout"))))
                .max(Duration::compareTo).orElseThrow();
        return longest.plus(DurationStyle.detectAndParse(string(map(worker().get("rag")).get("timeout"))))
                .plusSeconds(15);
    }

    /** A probe path /actuator/health/{group} answers only when the group is configured or probes are enabled. */
    static void assertProbeGroupConfigured(String group, Map<String, String> env) {
        Map<String, Object> health = map(map(map(CONFIG.get("management")).get("endpoint")).get("health"));
        boolean probes = Boolean.parseBoolean(string(map(health.get("probes")).get("enabled")))
                || "true".equals(env.get("MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED"));
        boolean grouped = map(health.get("group")).containsKey(group);
        assertThat(probes || grouped).as("health group " + group + " configured").isTrue();
    }

    static void assertProfilesExist(String profiles) {
        for (String profile : profiles.split(",")) {
            assertThat(ROOT.resolve("config/application-" + profile.trim() + ".yaml")).as("profile " + profile).exists();
        }
    }

    /** The environment variable names the application reads. */
    static void assertRead(String name) {
        assertThat(readVariables().contains(name) || RUNTIME_ENV.contains(name) || tierApiKey(name))
                .as(name + " is read by config/application.yaml (a ${" + name + "} placeholder or a property's "
                        + "environment form), Spring Boot, the JVM or DJL").isTrue();
    }

    static Set<String> readVariables() {
        Set<String> names = new LinkedHashSet<>();
        Matcher placeholder = Pattern.compile("\\$\\{([A-Z][A-Z0-9_]*)[:}]").matcher(CONFIG_TEXT);
        while (placeholder.find()) {
            names.add(placeholder.group(1));
        }
        List<String> paths = new ArrayList<>();
        flatten("", CONFIG, paths);
        for (String path : paths) {
            names.add(path.toUpperCase(Locale.ROOT).replace('.', '_').replace("-", ""));
            names.add(path.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'));
        }
        return names;
    }

    /** WORKER_TIERS_&lt;TIER&gt;_API_KEY: worker.tiers.&lt;tier&gt;.api-key, a secret never written in the file. */
    static boolean tierApiKey(String name) {
        assertThat(WorkerProperties.Tier.class.getRecordComponents()).anyMatch(c -> c.getName().equals("apiKey"));
        return tiers().keySet().stream().anyMatch(tier -> name.equals(tierEnv(tier, "api-key")));
    }

    static String tierEnv(String tier, String property) {
        return ("WORKER_TIERS_" + tier + "_" + property).toUpperCase(Locale.ROOT).replace('-', '_');
    }

    static String defaultOf(String value) {
        Matcher m = Pattern.compile("\\$\\{[A-Z_]+:(.*)}").matcher(value);
        return m.matches() ? m.group(1) : value;
    }

    // --- the files ---

    static List<String> instructions(String keyword) {
        List<String> found = new ArrayList<>();
        String joined = DOCKERFILE.replaceAll("\\\\\\n", " ");
        for (String line : joined.split("\n")) {
            String trimmed = line.trim();
            if (trimmed.startsWith(keyword + " ")) {
                found.add(trimmed.substring(keyword.length() + 1).trim().replaceAll("\\s+", " "));
            }
        }
        return found;
    }

    /** The ENV of the image's last stage (KEY=value pairs, quoted values allowed). */
    static Map<String, String> dockerEnv() {
        String runStage = DOCKERFILE.substring(DOCKERFILE.lastIndexOf("\nFROM "));
        Map<String, String> env = new LinkedHashMap<>();
        Matcher m = Pattern.compile("^ENV (.*?)$", Pattern.MULTILINE | Pattern.DOTALL)
                .matcher(runStage.replaceAll("\\\\\\n", " "));
        while (m.find()) {
            Matcher pair = Pattern.compile("([A-Z_][A-Z0-9_]*)=(\"[^\"]*\"|\\S+)").matcher(m.group(1));
            while (pair.find()) {
                env.put(pair.group(1), pair.group(2).replace("\"", ""));
            }
        }
        return env;
    }

    static Map<String, Object> kind(String kind) {
        return K8S.stream().filter(d -> kind.equals(d.get("kind"))).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " in deploy/k8s"));
    }

    static Map<String, Object> podSpec() {
        return map(map(map(kind("Deployment").get("spec")).get("template")).get("spec"));
    }

    static Map<String, Object> container() {
        return map(list(podSpec().get("containers")).get(0));
    }

    static Map<String, String> k8sEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        for (Object entry : list(container().get("env"))) {
            Object value = map(entry).get("value");
            env.put(string(map(entry).get("name")), value == null ? "" : string(value));
        }
        return env;
    }

    static String probe(Map<String, Object> container, String probe) {
        Map<String, Object> get = map(map(container.get(probe)).get("httpGet"));
        assertThat(get.get("port")).isEqualTo("http");
        return string(get.get("path"));
    }

    static List<Map<String, Object>> k8sDocuments() {
        List<Map<String, Object>> documents = new ArrayList<>();
        try (var files = Files.list(ROOT.resolve("deploy/k8s"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
                for (Object document : new Yaml().loadAll(read(file))) {
                    if (document != null) {
                        documents.add(map(document));
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return documents;
    }

    static void flatten(String prefix, Object node, List<String> paths) {
        if (node instanceof Map<?, ?> m) {
            m.forEach((k, v) -> flatten(prefix.isEmpty() ? String.valueOf(k) : prefix + "." + k, v, paths));
        } else {
            paths.add(prefix);
        }
    }

    static Map<String, Object> yaml(Path file) {
        return map(new Yaml().load(read(file)));
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return value == null ? Map.of() : (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static <T> List<T> list(Object value) {
        return value == null ? List.of() : (List<T>) value;
    }

    static Map<String, String> stringMap(Object value) {
        return map(value).entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> string(e.getValue()),
                (a, b) -> b, LinkedHashMap::new));
    }

    static String string(Object value) {
        return value == null ? null : String.valueOf(value);
    }

    static String lastOf(List<String> values) {
        assertThat(values).isNotEmpty();
        return values.get(values.size() - 1);
    }
}
