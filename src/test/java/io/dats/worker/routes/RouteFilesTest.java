package io.dats.worker.routes;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * Kaoto uses), explicit kebab-case ids, a {@code direct:x} route has id {@code x}, a one-line comment above each route,
 * no test endpoints or scripts, and every endpoint on the topic exchange says so.
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
        // a {{property placeholder}} is resolved by Camel wherever it stands; the schema only knows literal numbers there
        List<ValidationMessage> errors = camelYamlDsl.validate(routes).stream()
                .filter(error -> !(error.getInstanceNode() != null && error.getInstanceNode().isTextual()
                        && error.getInstanceNode().asText().matches("\\{\\{[^}]+}}")))
                .toList();
        assertThat(errors).as(file + " against camelYamlDsl.json").isEmpty();
    }

    @ParameterizedTest
    @MethodSource("routeFiles")
    void routesHaveKebabCaseIdsMatchingTheirDirectEndpointAndAComment(Path file) throws IOException {
        JsonNode routes = YAML.readTree(file.toFile());
        List<String> lines = Files.readAllLines(file);
        for (JsonNode element : routes) {
            JsonNode route = element.get("route");
            if (route == null) {
                continue;
            }
            String id = route.path("id").asText("");
            assertThat(id).as("route id in " + file).matches("[a-z][a-z0-9]*(-[a-z0-9]+)*");
            String from = route.path("from").path("uri").asText();
            if (from.startsWith("direct:")) {
                assertThat(id).as("id of the route fed by " + from).isEqualTo(from.substring("direct:".length()));
            }
            int at = indexOfRoute(lines, id);
            assertThat(lines.get(at - 1)).as("comment above route " + id).startsWith("# what this route does:");
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

    private static int indexOfRoute(List<String> lines, String id) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).trim().equals("id: " + id) && i > 0 && lines.get(i - 1).trim().equals("- route:")) {
                return i - 1;
            }
        }
        throw new AssertionError("route " + id + " not found as '- route:' followed by 'id: " + id + "'");
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
