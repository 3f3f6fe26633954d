package io.dats.worker.llm;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * The {@code Retry-After} of the last 429/503 answer a model server gave on this thread. The LLM call runs on one
 * thread from the HTTP request to the retry decision ({@link LlmRetryPolicy}), so the recording HTTP client
 * ({@link RetryAfterRecordingHttpClient}) leaves it here and the policy takes it.
 */
public final class RetryAfter {

    private static final ThreadLocal<Duration> LAST = new ThreadLocal<>();

    private RetryAfter() {
    }

    static void record(HttpHeaders headers, int status) {
        if (status == 429 || status == 503) {
            headers.firstValue("Retry-After").flatMap(RetryAfter::parse).ifPresentOrElse(LAST::set, LAST::remove);
        } else {
            LAST.remove();
        }
    }

    /** The recorded wait, removed; empty when the last answer named none. */
    public static Optional<Duration> take() {
        Duration value = LAST.get();
        LAST.remove();
        return Optional.ofNullable(value);
    }

    /** {@code Retry-After: 12} (seconds) or an HTTP date; never negative. */
    static Optional<Duration> parse(String value) {
        String text = value.trim();
        try {
            return Optional.of(Duration.ofMillis(Math.max(0, (long) (Double.parseDouble(text) * 1000))));
        } catch (NumberFormatException notSeconds) {
            try {
                Instant at = ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
                Duration wait = Duration.between(Instant.now(), at);
                return Optional.of(wait.isNegative() ? Duration.ZERO : wait);
            } catch (DateTimeParseException notADate) {
                return Optional.empty();
            }
        }
    }
}
