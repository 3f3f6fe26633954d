package io.dats.worker.llm;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.langchain4j.http.client.HttpClient;
import dev.langchain4j.http.client.HttpClientBuilder;
import dev.langchain4j.http.client.HttpRequest;
import dev.langchain4j.http.client.SuccessfulHttpResponse;
import dev.langchain4j.http.client.jdk.JdkHttpClientBuilder;
import dev.langchain4j.http.client.sse.ServerSentEventListener;
import dev.langchain4j.http.client.sse.ServerSentEventParser;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;

/**
 * LangChain4j's JDK HTTP client (noting a 429/503's {@code Retry-After}, {@link RetryAfterRecordingHttpClient}) with a
 * tier's extra request headers (a model gateway's routing or key headers) added
 * to every request, and the current trace's W3C {@code traceparent} when tracing is on. One mechanism for every provider: the Anthropic client has no custom-header option of its own.
 */
final class HeaderAddingHttpClientBuilder implements HttpClientBuilder {

    private final JdkHttpClientBuilder delegate = new JdkHttpClientBuilder()
            .httpClientBuilder(RetryAfterRecordingHttpClient.builder());
    private final Map<String, String> headers;

    HeaderAddingHttpClientBuilder(Map<String, String> headers) {
        this.headers = Map.copyOf(headers);
    }

    @Override
    public Duration connectTimeout() {
        return delegate.connectTimeout();
    }

    @Override
    public HttpClientBuilder connectTimeout(Duration timeout) {
        delegate.connectTimeout(timeout);
        return this;
    }

    @Override
    public Duration readTimeout() {
        return delegate.readTimeout();
    }

    @Override
    public HttpClientBuilder readTimeout(Duration timeout) {
        delegate.readTimeout(timeout);
        return this;
    }

    @Override
    public HttpClient build() {
        HttpClient client = delegate.build();
        return new HttpClient() {
            @Override
            public SuccessfulHttpResponse execute(HttpRequest request) {
                return client.execute(withHeaders(request));
            }

            @Override
            public void execute(HttpRequest request, ServerSentEventParser parser, ServerSentEventListener listener) {
                client.execute(withHeaders(request), parser, listener);
            }
        };
    }

    private HttpRequest withHeaders(HttpRequest request) {
        Map<String, List<String>> merged = new LinkedHashMap<>(request.headers());
        headers.forEach((name, value) -> merged.put(name, List.of(value)));
        // the current trace (the Camel span of the langchain4j-chat call) as W3C traceparent; nothing when tracing is off
        W3CTraceContextPropagator.getInstance().inject(Context.current(), merged,
                (carrier, name, value) -> carrier.put(name, List.of(value)));
        HttpRequest.Builder copy = HttpRequest.builder()
                .method(request.method())
                .url(request.url())
                .headers(merged)
                .body(request.body());
        if (request.formDataFields() != null) {
            copy.formDataFields(request.formDataFields());
        }
        if (request.formDataFiles() != null) {
            copy.formDataFiles(request.formDataFiles());
        }
        return copy.build();
    }
}
