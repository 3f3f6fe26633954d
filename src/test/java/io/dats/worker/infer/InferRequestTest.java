package io.dats.worker.infer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dats.worker.config.TestWorkerProperties;
import io.dats.worker.config.WorkerProperties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class InferRequestTest {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final WorkerProperties PROPERTIES = TestWorkerProperties.defaults();

    private static InferRequest read(String json) throws Exception {
        JsonNode body = MAPPER.readTree(json);
        return InferRequest.read(body, PROPERTIES, "small");
    }

    @Test
    void readsTheSeedRequestWithTheDefaultTier() throws Exception {
        InferRequest request = read("{\"prompt\":\"Hello, world!\",\"max_tokens\":100,\"temperature\":0.7,\"stream\":true}");
        assertThat(request).isEqualTo(new InferRequest("Hello, world!", 100, 0.7, true, "small"));
    }

    @Test
    void defaultsMaxTokensToTheTiersLimitAndLeavesTemperatureToTheTier() throws Exception {
        InferRequest request = read("{\"prompt\":\"hi\",\"tier\":\"large\"}");
        assertThat(request).isEqualTo(new InferRequest("hi", 4096, null, false, "large"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{}                                              | prompt is required",
            "{\"prompt\":\"\"}                               | prompt must be a non-empty string",
            "{\"prompt\":5}                                  | prompt must be a non-empty string",
            "{\"prompt\":\"p\",\"tier\":\"gpu\"}             | unknown tier 'gpu'",
            "{\"prompt\":\"p\",\"tier\":3}                   | tier must be a string",
            "{\"prompt\":\"p\",\"max_tokens\":\"ten\"}       | max_tokens must be an integer",
            "{\"prompt\":\"p\",\"max_tokens\":1.5}           | max_tokens must be an integer",
            "{\"prompt\":\"p\",\"max_tokens\":0}             | max_tokens must be between 1 and 4096",
            "{\"prompt\":\"p\",\"max_tokens\":4097}          | max_tokens must be between 1 and 4096",
            "{\"prompt\":\"p\",\"temperature\":\"hot\"}      | temperature must be a number",
            "{\"prompt\":\"p\",\"temperature\":2.5}          | temperature must be between 0 and 2.0",
            "{\"prompt\":\"p\",\"stream\":\"yes\"}           | stream must be a boolean",
            "[1, 2]                                          | the body must be a JSON object",
    })
    void refusesBadInputWithTheReason(String json, String detail) {
        assertThatThrownBy(() -> read(json)).isInstanceOf(InferRequest.InvalidInferRequest.class)
                .hasMessageContaining(detail);
    }
}
