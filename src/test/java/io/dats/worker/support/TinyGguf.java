package io.dats.worker.support;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Writes a tiny llama-architecture GGUF (version 3) with random f32 weights, for tests of the in-JVM model provider:
 * no real weights can be downloaded here. The file is a complete model llama.cpp loads: {@code general.*} and
 * {@code llama.*} hyperparameters, a SentencePiece-style vocabulary ({@code tokenizer.ggml.model = llama}: unknown,
 * BOS and EOS tokens, ChatML's {@code <|im_start|>}/{@code <|im_end|>}, the 256 byte-fallback tokens and some word
 * pieces), a ChatML chat template, and the tensors {@code token_embd}, {@code output_norm}, {@code output} plus
 * {@code blk.N.*} per layer.
 * <p>
 * Random weights produce random text; to keep a test's output usable the weights are shaped so that only word pieces
 * are ever sampled: every token embedding carries a large constant in dimension 0 (it survives the small random
 * layers, so the final RMS-normalised state is strongly positive there) and the output rows of the special, byte and
 * bare-space tokens are strongly negative in that dimension. The model therefore never ends a turn by itself (a
 * completion always runs to its token limit) and never answers with blank or invalid UTF-8 text.
 */
public final class TinyGguf {

    /** GGUF value types. */
    private static final int UINT32 = 4;
    private static final int INT32 = 5;
    private static final int FLOAT32 = 6;
    private static final int BOOL = 7;
    private static final int STRING = 8;
    private static final int ARRAY = 9;

    private static final int ALIGNMENT = 32;
    private static final int GGML_TYPE_F32 = 0;

    public static final int TOKEN_NORMAL = 1;
    public static final int TOKEN_UNKNOWN = 2;
    public static final int TOKEN_CONTROL = 3;
    public static final int TOKEN_BYTE = 6;

    public static final String CHATML_TEMPLATE = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'"
            + " + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
            + "{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static final String[] WORDS = {"the", "task", "worker", "code", "model", "queue", "tier", "local",
            "test", "def", "return", "print", "value", "data", "list", "map", "node", "file", "line", "token", "text",
            "run", "make", "read", "write", "open", "close", "fast", "small"};

    private final int embedding;
    private final int layers;
    private final int heads;
    private final int headsKv;
    private final int feedForward;
    private final int contextLength;
    private final long seed;

    private TinyGguf(int embedding, int layers, int heads, int headsKv, int feedForward, int contextLength, long seed) {
        this.embedding = embedding;
        this.layers = layers;
        this.heads = heads;
        this.headsKv = headsKv;
        this.feedForward = feedForward;
        this.contextLength = contextLength;
        this.seed = seed;
    }

    /** A 2-layer model: 64-dimensional embeddings, 4 heads (2 for keys/values), 128 feed-forward, 2048 context. */
    public static TinyGguf standard() {
        return new TinyGguf(64, 2, 4, 2, 128, 2048, 42);
    }

    public TinyGguf layers(int count) {
        return new TinyGguf(embedding, count, heads, headsKv, feedForward, contextLength, seed);
    }

    public TinyGguf seed(long value) {
        return new TinyGguf(embedding, layers, heads, headsKv, feedForward, contextLength, value);
    }

    /** The vocabulary: {@code <unk>}, {@code <s>}, {@code </s>}, ChatML markers, byte tokens, then word pieces. */
    public static List<String> vocabulary() {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
        }
        tokens.add("\u2581");
        for (char c = 'a'; c <= 'z'; c++) {
            tokens.add(String.valueOf(c));
        }
        for (String word : WORDS) {
            tokens.add("\u2581" + word);
            tokens.add(word);
        }
        return tokens;
    }

    private static int tokenType(String token, int id) {
        if (id == 0) {
            return TOKEN_UNKNOWN;
        }
        if (id < 5) {
            return TOKEN_CONTROL;
        }
        if (token.startsWith("<0x") && token.length() == 6) {
            return TOKEN_BYTE;
        }
        return TOKEN_NORMAL;
    }

    /** Whether the model may sample the token: only word pieces (not specials, bytes nor the bare space piece). */
    public static boolean sampled(String token, int id) {
        return tokenType(token, id) == TOKEN_NORMAL && !token.equals("\u2581");
    }

    /** Writes the model to the file and returns it. */
    public Path write(Path file) throws IOException {
        List<String> vocab = vocabulary();
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("general.architecture", "llama");
        meta.put("general.name", "tiny-random-llama");
        meta.put("general.alignment", new Uint32(ALIGNMENT));
        meta.put("llama.context_length", new Uint32(contextLength));
        meta.put("llama.embedding_length", new Uint32(embedding));
        meta.put("llama.block_count", new Uint32(layers));
        meta.put("llama.feed_forward_length", new Uint32(feedForward));
        meta.put("llama.attention.head_count", new Uint32(heads));
        meta.put("llama.attention.head_count_kv", new Uint32(headsKv));
        meta.put("llama.rope.dimension_count", new Uint32(embedding / heads));
        meta.put("llama.attention.layer_norm_rms_epsilon", 1e-5f);
        meta.put("llama.vocab_size", new Uint32(vocab.size()));
        meta.put("tokenizer.ggml.model", "llama");
        meta.put("tokenizer.ggml.tokens", vocab);
        float[] scores = new float[vocab.size()];
        int[] types = new int[vocab.size()];
        for (int id = 0; id < vocab.size(); id++) {
            types[id] = tokenType(vocab.get(id), id);
            // SentencePiece merges prefer higher scores: longer pieces first
            scores[id] = types[id] == TOKEN_NORMAL ? vocab.get(id).length() - id / 1000f : 0f;
        }
        meta.put("tokenizer.ggml.scores", scores);
        meta.put("tokenizer.ggml.token_type", types);
        meta.put("tokenizer.ggml.unknown_token_id", new Uint32(0));
        meta.put("tokenizer.ggml.bos_token_id", new Uint32(1));
        meta.put("tokenizer.ggml.eos_token_id", new Uint32(2));
        meta.put("tokenizer.ggml.add_bos_token", Boolean.TRUE);
        meta.put("tokenizer.ggml.add_eos_token", Boolean.FALSE);
        meta.put("tokenizer.chat_template", CHATML_TEMPLATE);

        Random random = new Random(seed);
        int kv = embedding / heads * headsKv;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("token_embd.weight", embeddings(vocab.size(), random));
        tensors.put("output_norm.weight", ones(embedding));
        tensors.put("output.weight", output(vocab, random));
        for (int layer = 0; layer < layers; layer++) {
            String blk = "blk." + layer + ".";
            tensors.put(blk + "attn_norm.weight", ones(embedding));
            tensors.put(blk + "attn_q.weight", randomTensor(random, 0.02f, embedding, embedding));
            tensors.put(blk + "attn_k.weight", randomTensor(random, 0.02f, embedding, kv));
            tensors.put(blk + "attn_v.weight", randomTensor(random, 0.02f, embedding, kv));
            tensors.put(blk + "attn_output.weight", randomTensor(random, 0.02f, embedding, embedding));
            tensors.put(blk + "ffn_norm.weight", ones(embedding));
            tensors.put(blk + "ffn_gate.weight", randomTensor(random, 0.02f, embedding, feedForward));
            tensors.put(blk + "ffn_up.weight", randomTensor(random, 0.02f, embedding, feedForward));
            tensors.put(blk + "ffn_down.weight", randomTensor(random, 0.02f, feedForward, embedding));
        }
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(encode(meta, tensors));
        }
        return file;
    }

    private Tensor embeddings(int vocabSize, Random random) {
        Tensor tensor = randomTensor(random, 0.5f, embedding, vocabSize);
        for (int token = 0; token < vocabSize; token++) {
            tensor.data[token * embedding] = 8f;
        }
        return tensor;
    }

    private Tensor output(List<String> vocab, Random random) {
        Tensor tensor = randomTensor(random, 1f, embedding, vocab.size());
        for (int token = 0; token < vocab.size(); token++) {
            tensor.data[token * embedding] = sampled(vocab.get(token), token) ? 0f : -10f;
        }
        return tensor;
    }

    private static Tensor ones(int size) {
        float[] data = new float[size];
        java.util.Arrays.fill(data, 1f);
        return new Tensor(new long[] {size}, data);
    }

    /** A tensor of shape {@code [ne0, ne1]} (ne0 varies fastest, as in ggml) with normal random values. */
    private static Tensor randomTensor(Random random, float std, int ne0, int ne1) {
        float[] data = new float[ne0 * ne1];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian() * std;
        }
        return new Tensor(new long[] {ne0, ne1}, data);
    }

    private static byte[] encode(Map<String, Object> meta, Map<String, Tensor> tensors) {
        long dataBytes = 0;
        List<Long> offsets = new ArrayList<>();
        for (Tensor tensor : tensors.values()) {
            offsets.add(dataBytes);
            dataBytes = align(dataBytes + tensor.data.length * 4L);
        }
        Buffer buf = new Buffer();
        buf.bytes("GGUF".getBytes(StandardCharsets.US_ASCII));
        buf.u32(3);
        buf.u64(tensors.size());
        buf.u64(meta.size());
        meta.forEach((key, value) -> {
            buf.string(key);
            buf.value(value);
        });
        int index = 0;
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            buf.string(entry.getKey());
            long[] shape = entry.getValue().shape;
            buf.u32(shape.length);
            for (long dim : shape) {
                buf.u64(dim);
            }
            buf.u32(GGML_TYPE_F32);
            buf.u64(offsets.get(index++));
        }
        buf.padTo(ALIGNMENT);
        long start = buf.size();
        index = 0;
        for (Tensor tensor : tensors.values()) {
            while (buf.size() - start < offsets.get(index)) {
                buf.bytes(new byte[] {0});
            }
            for (float value : tensor.data) {
                buf.f32(value);
            }
            index++;
        }
        buf.padTo(ALIGNMENT);
        return buf.toArray();
    }

    private static long align(long offset) {
        return (offset + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private record Uint32(int value) {
    }

    private record Tensor(long[] shape, float[] data) {
    }

    /** A growing little-endian byte buffer. */
    private static final class Buffer {

        private ByteBuffer bytes = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private void ensure(int more) {
            if (bytes.remaining() < more) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(bytes.capacity() * 2, bytes.position() + more))
                        .order(ByteOrder.LITTLE_ENDIAN);
                bytes.flip();
                bigger.put(bytes);
                bytes = bigger;
            }
        }

        void bytes(byte[] value) {
            ensure(value.length);
            bytes.put(value);
        }

        void u32(int value) {
            ensure(4);
            bytes.putInt(value);
        }

        void u64(long value) {
            ensure(8);
            bytes.putLong(value);
        }

        void f32(float value) {
            ensure(4);
            bytes.putFloat(value);
        }

        void string(String value) {
            byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
            u64(utf8.length);
            bytes(utf8);
        }

        void value(Object value) {
            if (value instanceof String text) {
                u32(STRING);
                string(text);
            } else if (value instanceof Uint32 number) {
                u32(UINT32);
                u32(number.value());
            } else if (value instanceof Float number) {
                u32(FLOAT32);
                f32(number);
            } else if (value instanceof Boolean flag) {
                u32(BOOL);
                bytes(new byte[] {(byte) (flag ? 1 : 0)});
            } else if (value instanceof List<?> list) {
                u32(ARRAY);
                u32(STRING);
                u64(list.size());
                list.forEach(item -> string((String) item));
            } else if (value instanceof float[] floats) {
                u32(ARRAY);
                u32(FLOAT32);
                u64(floats.length);
                for (float f : floats) {
                    f32(f);
                }
            } else if (value instanceof int[] ints) {
                u32(ARRAY);
                u32(INT32);
                u64(ints.length);
                for (int i : ints) {
                    u32(i);
                }
            } else {
                throw new IllegalArgumentException("no GGUF type for " + value);
            }
        }

        void padTo(int alignment) {
            while (bytes.position() % alignment != 0) {
                bytes(new byte[] {0});
            }
        }

        long size() {
            return bytes.position();
        }

        byte[] toArray() {
            byte[] out = new byte[bytes.position()];
            bytes.flip();
            bytes.get(out);
            return out;
        }
    }
}
