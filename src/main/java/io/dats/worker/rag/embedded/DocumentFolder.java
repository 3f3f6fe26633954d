package io.dats.worker.rag.embedded;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The documents of one folder, as the index sees them: every file below it whose extension is listed (hidden files
 * and folders skipped, larger than the size limit skipped, not UTF-8 skipped), with its project and domain.
 *
 * <p>Metadata convention: a {@value #SIDECAR} file in a folder sets {@code project_id=} and/or {@code domain=} for
 * every document in that folder and below; the nearest one that sets a key wins. Values given with the ingest
 * request override both. A document with neither belongs to every project (domain) and matches every query.
 */
final class DocumentFolder {

    /** The per-folder metadata file. */
    static final String SIDECAR = "rag.properties";

    /** A document ready to be chunked. */
    record SourceFile(Path path, String name, String projectId, String domain, String text, String hash) {
    }

    private final Path root;
    private final Set<String> extensions;
    private final long maxBytes;
    private final Map<Path, Properties> sidecars = new HashMap<>();

    DocumentFolder(Path root, List<String> extensions, long maxBytes) {
        this.root = root.toAbsolutePath().normalize();
        this.extensions = Set.copyOf(extensions);
        this.maxBytes = maxBytes;
    }

    Path root() {
        return root;
    }

    /** How documents of this folder are named in answers: relative to the working directory when inside it. */
    static String nameOf(Path file) {
        Path absolute = file.toAbsolutePath().normalize();
        Path cwd = Path.of("").toAbsolutePath().normalize();
        Path shown = absolute.startsWith(cwd) ? cwd.relativize(absolute) : absolute;
        return shown.toString().replace('\\', '/');
    }

    /** Whether a document name (see {@link #nameOf}) stands for a file below this folder. */
    boolean contains(String name) {
        Path file = Path.of(name).toAbsolutePath().normalize();
        return file.startsWith(root) && !file.equals(root);
    }

    /** The documents below the folder; {@code projectId}/{@code domain} (nullable) override the sidecars. */
    List<SourceFile> scan(String projectId, String domain) throws IOException {
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("not a folder: " + root);
        }
        List<Path> files;
        try (Stream<Path> walk = Files.walk(root)) {
            files = walk.filter(Files::isRegularFile)
                    .filter(this::visible)
                    .filter(this::listed)
                    .sorted()
                    .toList();
        }
        List<SourceFile> documents = new ArrayList<>(files.size());
        for (Path file : files) {
            if (Files.size(file) > maxBytes) {
                continue;
            }
            byte[] bytes = Files.readAllBytes(file);
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(java.nio.ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                continue;
            }
            String project = blankToNull(projectId) != null ? projectId : inherited(file.getParent(), "project_id");
            String dom = blankToNull(domain) != null ? domain : inherited(file.getParent(), "domain");
            documents.add(new SourceFile(file, nameOf(file), project, dom, text, sha256(bytes, project, dom)));
        }
        return documents;
    }

    private boolean visible(Path file) {
        for (Path part : root.relativize(file)) {
            if (part.toString().startsWith(".")) {
                return false;
            }
        }
        return true;
    }

    private boolean listed(Path file) {
        String name = file.getFileName().toString();
        if (name.equals(SIDECAR)) {
            return false;
        }
        int dot = name.lastIndexOf('.');
        return dot > 0 && extensions.contains(name.substring(dot + 1).toLowerCase());
    }

    private String inherited(Path folder, String key) throws IOException {
        for (Path dir = folder; dir != null && dir.startsWith(root); dir = dir.getParent()) {
            String value = blankToNull(sidecar(dir).getProperty(key));
            if (value != null) {
                return value.trim();
            }
        }
        return null;
    }

    private Properties sidecar(Path dir) throws IOException {
        Properties properties = sidecars.get(dir);
        if (properties == null) {
            properties = new Properties();
            Path file = dir.resolve(SIDECAR);
            if (Files.isRegularFile(file)) {
                try (Reader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                    properties.load(reader);
                }
            }
            sidecars.put(dir, properties);
        }
        return properties;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }

    /** Content and metadata: a file moved to another project is re-indexed too. */
    static String sha256(byte[] content, String projectId, String domain) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(content);
            digest.update(("\0" + projectId + "\0" + domain).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
