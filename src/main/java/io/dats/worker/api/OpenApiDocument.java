package io.dats.worker.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

import org.springframework.stereotype.Component;

/** The checked-in OpenAPI 3 document of the REST API ({@code classpath:openapi/worker-api.json}). */
@Component("openApiDocument")
public class OpenApiDocument {

    public static final String RESOURCE = "openapi/worker-api.json";

    private final String json;

    OpenApiDocument() {
        try (InputStream in = OpenApiDocument.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath");
            }
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String json() {
        return json;
    }
}
