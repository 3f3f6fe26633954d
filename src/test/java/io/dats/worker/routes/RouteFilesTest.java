package io.dats.worker.routes;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The route files integration engineers edit: valid Camel YAML DSL (the JSON schema camel-yaml-dsl ships, the one
 * Kaoto uses), explicit kebab-case ids, a {@code direct:x} route has id {@code x}, a description on every route and on
 * every step whose kind says nothing of its intent, no bookkeeping markers, no test endpoints or scripts, and every
 * endpoint on the topic exchange says so.
 */
class RouteFilesTest {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static JsonSchema camelYamlDsl;

    @BeforeAll
    static void loadSchema() throws IOException {
        try (InputStream schema = RouteFilesTest.class.getResourceAsStream("/schema/camelYamlDsl.json")) {
            assertThat(schema).as("camel-yaml-dsl's schema on the classpath").isNotNull();
            camelYamlDsl = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(schema);
        }
    }

    static List<Path> routeFiles() throws IOException {
        try (Stream<Path> files = Files.list(Path.of("routes"))) {
            List<Path> list = files.filter(f -> f.toString().endsWith(".camel.yaml")).sorted().toList();
            assertThat(list).isNotEmpty();
            return list;
        }
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void isValidCamelYamlDsl(Path file) throws IOException {
        JsonNode routes = YAML.readTree(file.toFile());
        // no exemption for {{placeholders}}: numeric and boolean options hold literals or come from beans
        // (redeliveryPolicyRef), so the files also pass the stricter schemas of later Camel versions
        Set<ValidationMessage> errors = camelYamlDsl.validate(routes);
        assertThat(errors).as(file + " against camelYamlDsl.json").isEmpty();
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void routesHaveKebabCaseIdsMatchingTheirDirectEndpointAndADescription(Path file) throws IOException {
        JsonNode routes = YAML.readTree(file.toFile());
        for (JsonNode element : routes) {
            JsonNode route = element.has("route") ? element.get("route") : element.get("routeTemplate");
            if (route == null) {
                route = element.get("routeConfiguration");
                if (route != null) {
                    assertThat(route.path("description").asText("")).as("description of " + route.path("id")).isNotBlank();
                }
                continue;
            }
            String id = route.path("id").asText("");
            assertThat(id).as("route id in " + file).matches("[a-z][a-z0-9]*(-[a-z0-9]+)*");
            String from = route.has("route") ? route.path("route").path("from").path("uri").asText()
                    : route.path("from").path("uri").asText();
            if (from.startsWith("direct:")) {
                assertThat(id).as("id of the route fed by " + from).isEqualTo(from.substring("direct:".length()));
            }
            assertThat(route.path("description").asText("")).as("description of route " + id + " (Kaoto and Hawtio show it)")
                    .isNotBlank();
        }
    }

    /** Steps whose component or EIP name says nothing of their intent carry a description (Kaoto labels nodes with it). */
    @ParameterizedTest
    @MethodSource("routeFiles")
    void stepsThatSayNothingByThemselvesHaveADescription(Path file) throws IOException {
        List<String> missing = new ArrayList<>();
        collectUndescribedSteps(YAML.readTree(file.toFile()), "", missing);
        assertThat(missing).as("steps without a description in " + file).isEmpty();
    }

    /** Route ids, REST verb ids included (each verb is a route), are unique across all files: Camel renames a clash. */
    @org.junit.jupiter.api.Test
    void idsAreUniqueAcrossTheRouteFiles() throws IOException {
        List<String> ids = new ArrayList<>();
        for (Path file : routeFiles()) {
            for (JsonNode element : YAML.readTree(file.toFile())) {
                for (String kind : List.of("route", "routeTemplate", "routeConfiguration")) {
                    if (element.has(kind)) {
                        ids.add(element.get(kind).path("id").asText());
                    }
                }
                JsonNode rest = element.get("rest");
                if (rest != null) {
                    for (String verb : List.of("get", "post", "put", "delete", "patch", "head")) {
                        rest.path(verb).forEach(v -> ids.add(v.path("id").asText()));
                    }
                }
            }
        }
        assertThat(ids).doesNotHaveDuplicates().doesNotContain("");
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void keepNoBookkeepingStageMarkers(Path file) throws IOException {
        assertThat(Files.readString(file)).as(file.toString()).doesNotContain("name: stage");
    }

    private static final Set<String> SILENT_STEPS = Set.of("setVariable", "setBody", "setHeader", "removeHeaders", "bean",
            "choice", "multicast", "throttle", "enrich", "toD", "doTry", "log", "convertBodyTo", "throwException", "to");

    private static void collectUndescribedSteps(JsonNode node, String path, List<String> missing) {
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                collectUndescribedSteps(node.get(i), path + "[" + i + "]", missing);
            }
        } else if (node.isObject()) {
            node.fields().forEachRemaining(field -> {
                if (path.endsWith("]") && path.contains("steps") && SILENT_STEPS.contains(field.getKey())
                        && field.getValue().isObject() && field.getValue().path("description").asText("").isBlank()) {
                    missing.add(path + "." + field.getKey());
                }
                if (path.endsWith("]") && path.contains("steps") && field.getValue().isTextual()
                        && SILENT_STEPS.contains(field.getKey())) {
                    missing.add(path + "." + field.getKey() + " (short form, no description)");
                }
                collectUndescribedSteps(field.getValue(), path + "." + field.getKey(), missing);
            });
        }
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void routesNameNoTestEndpointsNorScriptsAndSayTopicOnTheEventExchange(Path file) throws IOException {
        String text = Files.readString(file);
        assertThat(text).doesNotContain("mock:").doesNotContain("script:");
        List<JsonNode> endpoints = new ArrayList<>();
        collectRabbitEndpoints(YAML.readTree(file.toFile()), endpoints);
        for (JsonNode endpoint : endpoints) {
            assertThat(endpoint.path("parameters").path("exchangeType").asText()).as(endpoint.toString()).isEqualTo("topic");
        }
    }

    private static void collectRabbitEndpoints(JsonNode node, List<JsonNode> into) {
        if (node.isObject()) {
            if (node.path("uri").asText().startsWith("spring-rabbitmq:")) {
                into.add(node);
            }
            node.forEach(child -> collectRabbitEndpoints(child, into));
        } else if (node.isArray()) {
            node.forEach(child -> collectRabbitEndpoints(child, into));
        }
    }
}
