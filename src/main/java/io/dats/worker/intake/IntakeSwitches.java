package io.dats.worker.intake;

import java.net.InetAddress;

import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/**
 * Which optional intakes are configured (the route files' {@code precondition}s ask it, so an intake that is not
 * configured has no route at all), and the worker's id for claims and logs.
 */
@Component("intakeSwitches")
public class IntakeSwitches {

    private final PullProperties pull;
    private final MongoIntakeProperties mongo;
    private final String workerId;

    IntakeSwitches(PullProperties pull, MongoIntakeProperties mongo, Environment environment) {
        this.pull = pull;
        this.mongo = mongo;
        this.workerId = workerId(environment);
    }

    public boolean pull() {
        return pull.enabled();
    }

    public boolean mongo() {
        return mongo.enabled();
    }

    public String workerId() {
        return workerId;
    }

    /** {@code worker.id}, else the environment's {@code HOSTNAME}, else the host name, else {@code worker-1}. */
    static String workerId(Environment environment) {
        String id = environment.getProperty("worker.id");
        if (id == null || id.isBlank()) {
            id = environment.getProperty("HOSTNAME");
        }
        if (id == null || id.isBlank()) {
            try {
                id = InetAddress.getLocalHost().getHostName();
            } catch (Exception e) {
                id = null;
            }
        }
        return id == null || id.isBlank() ? "worker-1" : id.trim();
    }
}
