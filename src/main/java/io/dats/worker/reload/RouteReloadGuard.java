package io.dats.worker.reload;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.ServiceStatus;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.model.ProcessorDefinitionHelper;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.SendDefinition;
import org.apache.camel.spi.Resource;
import org.apache.camel.spi.ResourceReload;
import org.apache.camel.spi.RoutesLoader;
import org.apache.camel.support.EventHelper;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the dev profile's route reload does with a changed {@code routes/*.camel.yaml} file, instead of Camel's
 * {@code RouteWatcherReloadStrategy} default. Camel 4.17 parses the file, then stops and removes the running routes
 * with the file's route ids and only then creates and starts the new ones: an edit that parses but cannot start (an
 * unknown component, an unknown endpoint option, a missing bean) leaves the worker without those routes, and the
 * failure is logged as a multi-line warning with a stack trace. Here a changed file is
 * <ol>
 * <li>parsed and turned into route definitions (invalid YAML, a DSL schema error) without touching the running
 * routes;</li>
 * <li>checked: every static endpoint of its routes ({@code from}, {@code to}, {@code wireTap}...) is resolved, which
 * finds unknown components, unknown endpoint options and unresolved placeholders, still without touching them;</li>
 * <li>loaded (Camel replaces the routes with the file's ids); when that fails, the file's last good content is loaded
 * again, so its routes run as before.</li>
 * </ol>
 * A changed file is read once its content stopped changing (a piece of a file being written can be valid YAML with
 * fewer routes). A refused edit is one ERROR line naming the file and the error (the stack trace at DEBUG); saving the
 * fixed file reloads it. Saving a file whose content equals the last loaded one does nothing (editors save twice; a reverted
 * broken edit needs no reload).
 */
final class RouteReloadGuard implements ResourceReload {

    private static final Logger LOG = LoggerFactory.getLogger(RouteReloadGuard.class);
    private static final int MAX_ERROR_LENGTH = 400;
    private static final java.time.Duration SETTLE = java.time.Duration.ofMillis(300);
    private static final int MAX_SETTLE_READS = 10;

    private final CamelContext camelContext;
    /** File content last loaded successfully, by absolute path. */
    private final Map<Path, String> lastGood = new ConcurrentHashMap<>();

    RouteReloadGuard(CamelContext camelContext, Path directory, String pattern) {
        this.camelContext = camelContext;
        remember(directory, pattern);
    }

    private void remember(Path directory, String pattern) {
        if (!Files.isDirectory(directory)) {
            return;
        }
        java.nio.file.PathMatcher matcher = directory.getFileSystem().getPathMatcher("glob:" + pattern);
        try (var files = Files.list(directory)) {
            files.filter(f -> matcher.matches(f.getFileName())).forEach(f -> {
                try {
                    lastGood.put(key(f), Files.readString(f));
                } catch (IOException e) {
                    LOG.debug("Cannot read {} to remember its content", f, e);
                }
            });
        } catch (IOException e) {
            LOG.warn("Cannot list the route reload directory {}: {}", directory, e.getMessage());
        }
    }

    @Override
    public void onReload(String name, Resource resource) {
        if (!name.endsWith(".yaml") && !name.endsWith(".yml") && !name.endsWith(".xml")) {
            LOG.warn("{} changed: only route files (YAML, XML) are reloaded; restart the worker to apply it", name);
            return;
        }
        Path file = Path.of(name);
        Path key = key(file);
        if (!Files.exists(file)) {
            LOG.warn("Route file {} was removed: the routes it defined keep running until the worker restarts", name);
            return;
        }
        String content;
        try {
            content = settledContent(file);
        } catch (java.nio.file.NoSuchFileException e) {
            LOG.warn("Route file {} was removed: the routes it defined keep running until the worker restarts", name);
            return;
        } catch (IOException e) {
            LOG.error("Route file {} not reloaded: cannot read it ({}); its routes keep running", name, e.getMessage());
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (content.isBlank()) {
            // an editor truncates before it writes: the next event brings the content
            LOG.debug("Route file {} is empty, waiting for its content", name);
            return;
        }
        String previous = lastGood.get(key);
        if (content.equals(previous)) {
            LOG.debug("Route file {} unchanged since it was last loaded", name);
            return;
        }
        Resource current = ResourceHelper.fromString("file:" + name, content);
        List<String> ids;
        try {
            ids = check(current);
        } catch (Exception e) {
            LOG.error("Route file {} not reloaded: {}. The routes running from it keep running as before; fix the "
                    + "file and save it again", name, oneLine(e));
            LOG.debug("Route file {} not reloaded", name, e);
            return;
        }
        try {
            Set<String> reloaded = routesLoader().updateRoutes(List.of(current));
            lastGood.put(key, content);
            report(name, reloaded);
        } catch (Exception e) {
            LOG.error("Route file {} not reloaded: {}. {}", name, oneLine(e), restore(name, key, previous, ids));
            LOG.debug("Route file {} not reloaded", name, e);
        }
    }

    /**
     * The file's content once it stopped changing: a file is written in pieces (the JDK writes 8 KB at a time, editors
     * truncate first), and a piece can be valid YAML with fewer routes. Reads until two reads {@link #SETTLE} apart
     * agree, at most {@value #MAX_SETTLE_READS} times.
     */
    static String settledContent(Path file) throws IOException, InterruptedException {
        String content = Files.readString(file);
        for (int read = 1; read < MAX_SETTLE_READS; read++) {
            Thread.sleep(SETTLE.toMillis());
            String again = Files.readString(file);
            if (again.equals(content)) {
                return content;
            }
            content = again;
        }
        return content;
    }

    /**
     * Parses the resource into route definitions and resolves every static endpoint they use; the running routes are
     * not touched. Returns the ids of the routes the file defines.
     */
    List<String> check(Resource resource) throws Exception {
        Collection<RoutesBuilder> builders = routesLoader().findRoutesBuilders(List.of(resource));
        List<String> ids = new ArrayList<>();
        for (RoutesBuilder builder : builders) {
            if (!(builder instanceof RouteBuilder routeBuilder)) {
                continue;
            }
            // builds the definitions (DSL schema errors surface here); adds nothing to the context
            for (RouteDefinition route : routeBuilder.configureRoutes(camelContext).getRoutes()) {
                ids.add(route.getRouteId());
                resolve(route.getRouteId(), route.getInput().getEndpointUri());
                for (SendDefinition<?> send : ProcessorDefinitionHelper.filterTypeInOutputs(route.getOutputs(),
                        SendDefinition.class)) {
                    resolve(route.getRouteId(), send.getEndpointUri());
                }
            }
        }
        return ids;
    }

    private void resolve(String routeId, String uri) {
        if (uri == null || uri.contains("${")) {
            return; // dynamic, resolved per exchange
        }
        try {
            camelContext.getEndpoint(uri);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("route " + routeId + ": endpoint " + uri + ": " + oneLine(e), e);
        }
    }

    /** After a failed load: loads the last good content of the file again, so that its routes run as before. */
    private String restore(String name, Path key, String previous, List<String> ids) {
        if (previous == null) {
            return "The file was not loaded before; its routes are not running";
        }
        try {
            routesLoader().updateRoutes(List.of(ResourceHelper.fromString("file:" + name, previous)));
            List<String> running = ids.stream().filter(id -> status(id) == ServiceStatus.Started).toList();
            return "Its last good version is running again (" + String.join(", ", running)
                    + "); fix the file and save it again";
        } catch (Exception e) {
            LOG.debug("Restoring {} failed", name, e);
            return "Restoring its last good version failed too (" + oneLine(e) + "); routes not running: "
                    + ids.stream().filter(id -> status(id) != ServiceStatus.Started).collect(Collectors.joining(", "));
        } finally {
            lastGood.put(key, previous);
        }
    }

    private void report(String name, Set<String> reloaded) {
        Set<String> notStarted = new LinkedHashSet<>();
        int index = 1;
        for (String id : reloaded) {
            Route route = camelContext.getRoute(id);
            if (status(id) != ServiceStatus.Started) {
                notStarted.add(id);
            }
            if (route != null) {
                EventHelper.notifyRouteReloaded(camelContext, route, index++, reloaded.size());
            }
        }
        if (notStarted.isEmpty()) {
            LOG.info("Route file {} reloaded: {}", name, String.join(", ", reloaded));
        } else {
            LOG.warn("Route file {} reloaded: {}; not started: {}", name, String.join(", ", reloaded), notStarted);
        }
    }

    private ServiceStatus status(String id) {
        ServiceStatus status = camelContext.getRouteController().getRouteStatus(id);
        return status == null ? ServiceStatus.Stopped : status;
    }

    private RoutesLoader routesLoader() {
        return PluginHelper.getRoutesLoader(camelContext);
    }

    private static Path key(Path file) {
        return file.toAbsolutePath().normalize();
    }

    /**
     * The error as one line: the messages of the exception and its causes (each once), whitespace collapsed, cut at
     * {@value #MAX_ERROR_LENGTH} characters.
     */
    static String oneLine(Throwable error) {
        List<String> parts = new ArrayList<>();
        for (Throwable t = error; t != null && parts.size() < 5; t = t.getCause() == t ? null : t.getCause()) {
            String message = (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage())
                    .replaceAll("\\s+", " ").trim().replaceAll("\\.+$", "");
            if (parts.stream().noneMatch(p -> p.contains(message))) {
                parts.add(message);
            }
        }
        String line = String.join(": ", parts);
        return line.length() > MAX_ERROR_LENGTH ? line.substring(0, MAX_ERROR_LENGTH) + "…" : line;
    }
}
