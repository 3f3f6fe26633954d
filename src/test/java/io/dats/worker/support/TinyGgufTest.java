package io.dats.worker.support;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The test GGUF writer: a GGUF v3 header, its metadata keys and tensors, aligned data, the same bytes per seed. */
class TinyGgufTest {

    @TempDir
    Path dir;

    @Test
    void writesAVersion3HeaderWithMetadataAndTensors() throws Exception {
        Path file = TinyGguf.standard().layers(1).write(dir.resolve("one.gguf"));
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);

        byte[] magic = new byte[4];
        bytes.get(magic);
        assertThat(new String(magic, StandardCharsets.US_ASCII)).isEqualTo("GGUF");
        assertThat(bytes.getInt()).isEqualTo(3);
        // token_embd, output_norm, output + 9 tensors per layer
        assertThat(bytes.getLong()).isEqualTo(3 + 9);
        assertThat(bytes.getLong()).as("metadata keys").isEqualTo(22);
        String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        assertThat(text).contains("general.architecture", "llama.block_count", "tokenizer.ggml.tokens",
                "tokenizer.chat_template", "<|im_start|>", "blk.0.ffn_down.weight").doesNotContain("blk.1.");
        assertThat(Files.size(file) % 32).isZero();
    }

    @Test
    void writesTheSameBytesForTheSameSeedAndOthersForAnother() throws Exception {
        byte[] first = Files.readAllBytes(TinyGguf.standard().write(dir.resolve("a.gguf")));
        byte[] again = Files.readAllBytes(TinyGguf.standard().write(dir.resolve("b.gguf")));
        byte[] other = Files.readAllBytes(TinyGguf.standard().seed(7).write(dir.resolve("c.gguf")));

        assertThat(again).isEqualTo(first);
        assertThat(other).hasSameSizeAs(first).isNotEqualTo(first);
    }

    @Test
    void hasAUniqueVocabularyWithTheByteTokens() {
        assertThat(TinyGguf.vocabulary()).doesNotHaveDuplicates().hasSize(346).contains("<0x0A>", "<0xFF>", "\u2581task");
        assertThat(TinyGguf.sampled("\u2581task", 300)).isTrue();
        assertThat(TinyGguf.sampled("</s>", 2)).isFalse();
        assertThat(TinyGguf.sampled("<0x41>", 70)).isFalse();
    }
}
