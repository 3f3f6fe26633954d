package io.dats.worker.llm;

/** Every attempt of a task's LLM call failed; the cause is the last attempt's failure. */
public class LlmCallException extends RuntimeException {

    private final String tier;
    private final int attempts;

    public LlmCallException(String tier, int attempts, Throwable cause) {
        super("the LLM call of tier " + tier + " failed after " + attempts + " attempt(s): " + cause.getMessage(), cause);
        this.tier = tier;
        this.attempts = attempts;
    }

    public String tier() {
        return tier;
    }

    public int attempts() {
        return attempts;
    }
}
