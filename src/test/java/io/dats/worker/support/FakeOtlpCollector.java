package io.dats.worker.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;

import com.sun.net.httpserver.HttpExchange;

/**
 * An OTLP/HTTP trace receiver on loopback ({@code POST /v1/traces}, protobuf, as Spring Boot's OTLP exporter sends
 * it): decodes the spans' trace id, span id, parent span id, name and string attributes with a minimal protobuf
 * reader (ExportTraceServiceRequest → ResourceSpans(2) → ScopeSpans(2) → Span), and answers 200 with an empty
 * ExportTraceServiceResponse.
 */
public final class FakeOtlpCollector extends LoopbackHttpServer {

    /** One received span. */
    public record ReceivedSpan(String traceId, String spanId, String parentSpanId, String name,
                               Map<String, String> attributes) {
    }

    private final List<ReceivedSpan> spans = new CopyOnWriteArrayList<>();
    private final List<String> contentTypes = new CopyOnWriteArrayList<>();

    public FakeOtlpCollector start() {
        startServer();
        return this;
    }

    /** The endpoint for {@code management.otlp.tracing.endpoint}. */
    public String tracesUrl() {
        return baseUrl() + "/v1/traces";
    }

    public List<ReceivedSpan> spans() {
        return List.copyOf(spans);
    }

    public List<ReceivedSpan> spansOf(String traceId) {
        return spans.stream().filter(span -> span.traceId().equals(traceId)).toList();
    }

    public List<String> contentTypes() {
        return List.copyOf(contentTypes);
    }

    @Override
    void handle(HttpExchange exchange) throws IOException {
        InputStream body = exchange.getRequestBody();
        if ("gzip".equalsIgnoreCase(exchange.getRequestHeaders().getFirst("Content-Encoding"))) {
            body = new GZIPInputStream(body);
        }
        byte[] bytes = body.readAllBytes();
        contentTypes.add(exchange.getRequestHeaders().getFirst("Content-Type"));
        if (!"POST".equals(exchange.getRequestMethod()) || !exchange.getRequestURI().getPath().equals("/v1/traces")) {
            exchange.sendResponseHeaders(404, -1);
            return;
        }
        for (Field resourceSpans : fields(bytes)) {
            if (resourceSpans.number == 1) {
                for (Field scopeSpans : fields(resourceSpans.bytes)) {
                    if (scopeSpans.number == 2) {
                        for (Field span : fields(scopeSpans.bytes)) {
                            if (span.number == 2) {
                                spans.add(span(span.bytes));
                            }
                        }
                    }
                }
            }
        }
        exchange.getResponseHeaders().add("Content-Type", "application/x-protobuf");
        exchange.sendResponseHeaders(200, 0);
        exchange.getResponseBody().write(new byte[0]);
    }

    private static ReceivedSpan span(byte[] bytes) {
        String traceId = "";
        String spanId = "";
        String parent = "";
        String name = "";
        Map<String, String> attributes = new LinkedHashMap<>();
        for (Field field : fields(bytes)) {
            switch (field.number) {
                case 1 -> traceId = HexFormat.of().formatHex(field.bytes);
                case 2 -> spanId = HexFormat.of().formatHex(field.bytes);
                case 4 -> parent = HexFormat.of().formatHex(field.bytes);
                case 5 -> name = new String(field.bytes, StandardCharsets.UTF_8);
                case 9 -> attribute(field.bytes, attributes);
                default -> {
                }
            }
        }
        return new ReceivedSpan(traceId, spanId, parent, name, attributes);
    }

    /** KeyValue { string key = 1; AnyValue value = 2 }, AnyValue { string string_value = 1; ... }. */
    private static void attribute(byte[] bytes, Map<String, String> attributes) {
        String key = null;
        String value = null;
        for (Field field : fields(bytes)) {
            if (field.number == 1) {
                key = new String(field.bytes, StandardCharsets.UTF_8);
            } else if (field.number == 2) {
                for (Field any : fields(field.bytes)) {
                    value = any.bytes != null ? new String(any.bytes, StandardCharsets.UTF_8) : Long.toString(any.varint);
                }
            }
        }
        if (key != null) {
            attributes.put(key, value);
        }
    }

    private record Field(int number, byte[] bytes, long varint) {
    }

    /** The fields of one protobuf message (length-delimited ones with their bytes, others with their value). */
    private static List<Field> fields(byte[] data) {
        List<Field> fields = new ArrayList<>();
        int[] pos = {0};
        while (pos[0] < data.length) {
            long tag = varint(data, pos);
            int number = (int) (tag >>> 3);
            int type = (int) (tag & 7);
            switch (type) {
                case 0 -> fields.add(new Field(number, null, varint(data, pos)));
                case 1 -> {
                    fields.add(new Field(number, null, 0));
                    pos[0] += 8;
                }
                case 2 -> {
                    int length = (int) varint(data, pos);
                    byte[] bytes = new byte[length];
                    System.arraycopy(data, pos[0], bytes, 0, length);
                    pos[0] += length;
                    fields.add(new Field(number, bytes, 0));
                }
                case 5 -> {
                    fields.add(new Field(number, null, 0));
                    pos[0] += 4;
                }
                default -> throw new IllegalArgumentException("unsupported protobuf wire type " + type);
            }
        }
        return fields;
    }

    private static long varint(byte[] data, int[] pos) {
        long value = 0;
        int shift = 0;
        while (true) {
            byte b = data[pos[0]++];
            value |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
            shift += 7;
        }
    }

}
