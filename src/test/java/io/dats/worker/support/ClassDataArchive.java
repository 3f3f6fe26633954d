package io.dats.worker.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The class-data archive {@code bin/worker} makes ({@code target/cds/worker.jsa}), as seen from a running worker. */
public final class ClassDataArchive {

    private ClassDataArchive() {
    }

    /** Whether the JVM of process {@code pid} mapped the archive (rather than starting without it). */
    public static boolean isMappedBy(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "maps")).contains("target/cds/worker.jsa");
        } catch (IOException e) {
            return false; // the process is gone
        }
    }
}
