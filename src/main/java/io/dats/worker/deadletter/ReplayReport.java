package io.dats.worker.deadletter;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** What one scan of the dead-letter queue did, as the JSON answer's fields. */
final class ReplayReport {

    /** by_tier key of a message whose tier cannot be determined. */
    static final String NO_TIER = "(none)";

    private int scanned;
    private int moved;
    private int kept;
    private int skipped;
    private final Map<String, Integer> movedByTier = new TreeMap<>();
    private final Map<String, Integer> skippedReasons = new TreeMap<>();
    private final Map<String, Integer> byError = new TreeMap<>();
    private final Map<String, Integer> byTier = new TreeMap<>();

    void scanned(DeadLetter letter) {
        scanned++;
        byError.merge(letter.error(), 1, Integer::sum);
        byTier.merge(letter.tier().orElse(NO_TIER), 1, Integer::sum);
    }

    void moved(String tier) {
        moved++;
        movedByTier.merge(tier, 1, Integer::sum);
    }

    void kept() {
        kept++;
    }

    void skipped(String reason) {
        skipped++;
        skippedReasons.merge(reason, 1, Integer::sum);
    }

    int moved() {
        return moved;
    }

    int scanned() {
        return scanned;
    }

    /** The replay's answer: {@code {"moved", "kept", "skipped", "by_tier", "skipped_reasons", "scanned"}}. */
    Map<String, Object> replayAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("moved", moved);
        answer.put("kept", kept);
        answer.put("skipped", skipped);
        answer.put("by_tier", movedByTier);
        answer.put("skipped_reasons", skippedReasons);
        answer.put("scanned", scanned);
        return answer;
    }

    /** The listing's answer: {@code {"messages", "by_error", "by_tier"}}. */
    Map<String, Object> listingAnswer() {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("messages", scanned);
        answer.put("by_error", byError);
        answer.put("by_tier", byTier);
        return answer;
    }
}
