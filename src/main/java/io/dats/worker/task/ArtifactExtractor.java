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
 * Extracts artifacts from a model's markdown answer, per kind of output:
 * <ul>
 * <li>{@link #extract code}: one {@code code} artifact per fenced code block, the language from the fence's info
 * string, the path from the info string ({@code ```python src/fib.py}), from a leading {@code file:}/{@code path:}
 * comment, or made up from the language;</li>
 * <li>{@link #documents docs}: {@code documentation} artifacts ({@code *.md}): each fenced markdown block, or else the
 * whole answer as one document named after its first heading, headings and examples kept as written;</li>
 * <li>{@link #ui ui}: {@code ui} artifacts for html, css, tsx/jsx and svg blocks; blocks in other languages stay
 * {@code code} artifacts.</li>
 * </ul>
 * Paths are relative and never leave the root.
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

    public static final String CODE = "code";
    public static final String DOCUMENTATION = "documentation";
    public static final String UI = "ui";

    private static final Set<String> MARKDOWN = Set.of("markdown", "md");
    private static final Map<String, String> UI_LANGUAGES = Map.ofEntries(
            Map.entry("html", "html"), Map.entry("htm", "html"), Map.entry("css", "css"), Map.entry("scss", "scss"),
            Map.entry("less", "less"), Map.entry("tsx", "tsx"), Map.entry("jsx", "jsx"), Map.entry("svg", "svg"),
            Map.entry("vue", "vue"), Map.entry("svelte", "svelte"));
    private static final Pattern HEADING = Pattern.compile("^#{1,6}[ \t]+(.+?)[ \t#]*$", Pattern.MULTILINE);

    private ArtifactExtractor() {
    }

    /** One fenced block: its info string's language and path (or null) and its content. */
    private record Block(String language, String path, String content) {
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
        for (Block block : blocks(markdown, defaultLanguage)) {
            String path = uniquePath(block.path() != null ? block.path()
                    : madeUpPath(block.language(), artifacts.size() + 1), paths);
            artifacts.add(new Artifact(CODE, block.language(), path, block.content()));
        }
        return artifacts;
    }

    /**
     * Markdown documents: every fenced {@code markdown}/{@code md} block is one; an answer without such blocks is one
     * document as a whole (its code examples stay inside it).
     */
    public static List<Artifact> documents(String markdown) {
        List<Artifact> artifacts = new ArrayList<>();
        if (markdown == null || markdown.isBlank()) {
            return artifacts;
        }
        Set<String> paths = new HashSet<>();
        for (Block block : blocks(markdown, "text")) {
            if (MARKDOWN.contains(block.language())) {
                String path = block.path() != null ? markdownPath(block.path()) : documentPath(block.content(), artifacts.size() + 1);
                artifacts.add(new Artifact(DOCUMENTATION, "markdown", uniquePath(path, paths), block.content()));
            }
        }
        if (artifacts.isEmpty()) {
            artifacts.add(new Artifact(DOCUMENTATION, "markdown", documentPath(markdown, 1), markdown.strip() + "\n"));
        }
        return artifacts;
    }

    /** UI artifacts (html, css, tsx/jsx, svg, ...); other blocks stay code artifacts so that nothing is dropped. */
    public static List<Artifact> ui(String markdown, String defaultLanguage) {
        List<Artifact> artifacts = new ArrayList<>();
        if (markdown == null) {
            return artifacts;
        }
        Set<String> paths = new HashSet<>();
        for (Block block : blocks(markdown, defaultLanguage)) {
            String language = uiLanguage(block);
            String path = uniquePath(block.path() != null ? block.path()
                    : madeUpPath(language != null ? language : block.language(), artifacts.size() + 1), paths);
            artifacts.add(language != null
                    ? new Artifact(UI, language, path, block.content())
                    : new Artifact(CODE, block.language(), path, block.content()));
        }
        return artifacts;
    }

    private static String uiLanguage(Block block) {
        String language = UI_LANGUAGES.get(block.language());
        if (language != null) {
            return language;
        }
        if ((block.language().equals("xml") || block.language().equals("text")) && block.content().stripLeading().startsWith("<svg")) {
            return "svg";
        }
        if (block.path() != null) {
            int dot = block.path().lastIndexOf('.');
            return dot < 0 ? null : UI_LANGUAGES.get(block.path().substring(dot + 1).toLowerCase(Locale.ROOT));
        }
        return null;
    }

    private static List<Block> blocks(String markdown, String defaultLanguage) {
        List<Block> blocks = new ArrayList<>();
        Matcher fence = FENCE.matcher(markdown);
        while (fence.find()) {
            String info = fence.group(2).trim();
            String content = fence.group(3);
            String language = languageOf(info, defaultLanguage);
            blocks.add(new Block(language, pathOf(info, content), content));
        }
        return blocks;
    }

    private static String madeUpPath(String language, int index) {
        return "artifact-" + index + "." + EXTENSIONS.getOrDefault(language, "txt");
    }

    private static String markdownPath(String path) {
        return path.toLowerCase(Locale.ROOT).endsWith(".md") ? path : path + ".md";
    }

    /** A document's path from its first heading ({@code # Getting started} gives {@code getting-started.md}). */
    static String documentPath(String markdown, int index) {
        Matcher heading = HEADING.matcher(markdown);
        if (heading.find()) {
            String slug = heading.group(1).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
            if (!slug.isEmpty()) {
                return (slug.length() > 60 ? slug.substring(0, 60).replaceAll("-+$", "") : slug) + ".md";
            }
        }
        return index == 1 ? "README.md" : "document-" + index + ".md";
    }

    private static String languageOf(String info, String defaultLanguage) {
        String first = info.isEmpty() ? "" : info.split("[\\s{,]+", 2)[0];
        if (first.isEmpty() || first.contains("=") || first.contains(":")) {
            return defaultLanguage == null || defaultLanguage.isBlank() ? "text" : defaultLanguage;
        }
        return first.toLowerCase(Locale.ROOT);
    }

    /** The path the info string or the block's first line names, or null. */
    private static String pathOf(String info, String content) {
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
        return null;
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
