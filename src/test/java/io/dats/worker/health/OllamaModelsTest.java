package io.dats.worker.health;

import java.net.URI;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class OllamaModelsTest {

    static final String TAGS = """
            {"models":[{"name":"gemma3:4b","model":"gemma3:4b","size":1},{"name":"llama3:latest","model":"llama3:latest"}]}
            """;

    @Test
    void findsAModelByItsNameAndAnUntaggedNameAsLatest() {
        assertThat(OllamaModels.lists(TAGS, "gemma3:4b")).isTrue();
        assertThat(OllamaModels.lists(TAGS, "llama3")).isTrue();
        assertThat(OllamaModels.lists(TAGS, "llama3:latest")).isTrue();
    }

    @Test
    void aModelNotListedIsMissing() {
        assertThat(OllamaModels.lists(TAGS, "gemma3:12b")).isFalse();
        assertThat(OllamaModels.lists(TAGS, "gemma3")).isFalse();
        assertThat(OllamaModels.lists("{\"models\":[]}", "gemma3:4b")).isFalse();
    }

    @Test
    void anAnswerThatIsNoModelListTellsNothing() {
        assertThat(OllamaModels.lists(null, "gemma3:4b")).isNull();
        assertThat(OllamaModels.lists("Ollama is running", "gemma3:4b")).isNull();
        assertThat(OllamaModels.lists("{\"error\":\"x\"}", "gemma3:4b")).isNull();
    }

    @Test
    void theModelListIsUnderTheBaseUrl() {
        assertThat(OllamaModels.tagsUrl(URI.create("http://localhost:11434"))).hasToString("http://localhost:11434/api/tags");
        assertThat(OllamaModels.tagsUrl(URI.create("http://gpu:11434/"))).hasToString("http://gpu:11434/api/tags");
    }
}
