package io.dats.worker.llm;

import de.kherud.llama.LlamaModel;
import de.kherud.llama.LogLevel;
import de.kherud.llama.args.LogFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends llama.cpp's native log (which otherwise goes to stdout as JSON) to the logger {@code io.dats.worker.llm.llama}:
 * its chatter (model metadata, per-request timings) at DEBUG, its warnings and errors as such.
 */
final class LocalLlamaLog {

    private static final Logger LOG = LoggerFactory.getLogger("io.dats.worker.llm.llama");
    private static volatile boolean installed;

    private LocalLlamaLog() {
    }

    static synchronized void install() {
        if (installed) {
            return;
        }
        LlamaModel.setLogger(LogFormat.TEXT, LocalLlamaLog::log);
        installed = true;
    }

    private static void log(LogLevel level, String message) {
        String line = message.stripTrailing();
        if (line.isEmpty()) {
            return;
        }
        switch (level) {
            case ERROR -> LOG.error(line);
            case WARN -> LOG.warn(line);
            default -> LOG.debug(line);
        }
    }
}
