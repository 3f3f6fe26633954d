package io.dats.worker.task;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Extracts code artifacts from a model's markdown answer: one artifact per fenced code block, the language from
 * the fence's info string, the path from the info string ({@code ```python src/fib.py}), from a leading
 * {@code file:}/{@code path:} comment, or made up from the language. Paths are relative and never leave the root.
 */
public final class ArtifactExtractor {

    /** One extracted artifact, as in the output document. */
    public record Artifact(String type, String language, String path, String content) {
    }

    private static final Pattern FENCE = Pattern.compile(
            "^[ \\t]{0,3}(`{3,}|~{3,})[ \\t]*([^\\n`]*)\\n(.*?)^[ \\t]{0,3}\\1[ \\t]*$",
            Pattern.MULTILINE | Pattern.DOTALL);
    private static final Pattern INFO_PATH = Pattern.compile("(?:path|file|filename|title)\\s*[=:]\\s*\"?([^\"\\s]+)\"?");
    private static final Pattern COMMENT_PATH = Pattern.compile(
            "^\\s*(?:#|//|--|;|/\\*|<!--)\\s*(?:file(?:name)?|path)\\s*:\\s*([^\\s*>]+)", Pattern.CASE_INSENSITIVE);

    private static final Map<String, String> EXTENSIONS = Map.ofEntries(
            Map.entry("python", "py"), Map.entry("py", "py"), Map.entry("java", "java"), Map.entry("kotlin", "kt"),
            Map.entry("javascript", "js"), Map.entry("js", "js"), Map.entry("jsx", "jsx"),
            Map.entry("typescript", "ts"), Map.entry("ts", "ts"), Map.entry("tsx", "tsx"),
            Map.entry("c", "c"), Map.entry("h", "h"), Map.entry("cpp", "cpp"), Map.entry("c++", "cpp"),
            Map.entry("csharp", "cs"), Map.entry("cs", "cs"), Map.entry("go", "go"), Map.entry("rust", "rs"),
            Map.entry("ruby", "rb"), Map.entry("php", "php"), Map.entry("swift", "swift"), Map.entry("scala", "scala"),
            Map.entry("html", "html"), Map.entry("css", "css"), Map.entry("scss", "scss"), Map.entry("vue", "vue"),
            Map.entry("svelte", "svelte"), Map.entry("json", "json"), Map.entry("yaml", "yaml"), Map.entry("yml", "yaml"),
            Map.entry("toml", "toml"), Map.entry("xml", "xml"), Map.entry("sql", "sql"), Map.entry("bash", "sh"),
            Map.entry("sh", "sh"), Map.entry("shell", "sh"), Map.entry("markdown", "md"), Map.entry("md", "md"),
            Map.entry("arduino", "ino"), Map.entry("asm", "s"), Map.entry("verilog", "v"), Map.entry("cmake", "cmake"),
            Map.entry("makefile", "mk"), Map.entry("dockerfile", "dockerfile"), Map.entry("text", "txt"));

    private ArtifactExtractor() {
    }

    /**
     * @param markdown        the model's answer
     * @param defaultLanguage language of blocks whose fence names none (the domain's language)
     */
    public static List<Artifact> extract(String markdown, String defaultLanguage) {
        List<Artifact> artifacts = new ArrayList<>();
        if (markdown == null) {
            return artifacts;
        }
        Set<String> paths = new HashSet<>();
        Matcher fence = FENCE.matcher(markdown);
        while (fence.find()) {
            String info = fence.group(2).trim();
            String content = fence.group(3);
            String language = languageOf(info, defaultLanguage);
            String path = uniquePath(pathOf(info, content, language, artifacts.size() + 1), paths);
            artifacts.add(new Artifact("code", language, path, content));
        }
        return artifacts;
    }

    private static String languageOf(String info, String defaultLanguage) {
        String first = info.isEmpty() ? "" : info.split("[\\s{,]+", 2)[0];
        if (first.isEmpty() || first.contains("=") || first.contains(":")) {
            return defaultLanguage == null || defaultLanguage.isBlank() ? "text" : defaultLanguage;
        }
        return first.toLowerCase(Locale.ROOT);
    }

    private static String pathOf(String info, String content, String language, int index) {
        Matcher named = INFO_PATH.matcher(info);
        if (named.find()) {
            String path = safe(named.group(1));
            if (path != null) {
                return path;
            }
        }
        String[] words = info.split("\\s+");
        if (words.length > 1 && !words[1].contains("=") && (words[1].contains(".") || words[1].contains("/"))) {
            String path = safe(words[1]);
            if (path != null) {
                return path;
            }
        }
        String firstLine = content.lines().findFirst().orElse("");
        Matcher comment = COMMENT_PATH.matcher(firstLine);
        if (comment.find()) {
            String path = safe(comment.group(1));
            if (path != null) {
                return path;
            }
        }
        return "artifact-" + index + "." + EXTENSIONS.getOrDefault(language, "txt");
    }

    /** A relative, normalised path inside the artifact root, or null when the candidate would escape it. */
    static String safe(String candidate) {
        String cleaned = candidate.replace('\\', '/').replaceAll("^[\"'`]+|[\"'`,;]+$", "");
        if (cleaned.isBlank() || cleaned.startsWith("/") || cleaned.matches("^[A-Za-z]:.*")) {
            return null;
        }
        try {
            Path path = Path.of(cleaned).normalize();
            String normalised = path.toString().replace('\\', '/');
            if (normalised.isEmpty() || normalised.startsWith("..") || path.isAbsolute()) {
                return null;
            }
            return normalised;
        } catch (InvalidPathException e) {
            return null;
        }
    }

    private static String uniquePath(String path, Set<String> taken) {
        String candidate = path;
        for (int n = 2; !taken.add(candidate); n++) {
            int dot = path.lastIndexOf('.');
            candidate = dot > 0 ? path.substring(0, dot) + "-" + n + path.substring(dot) : path + "-" + n;
        }
        return candidate;
    }
}
