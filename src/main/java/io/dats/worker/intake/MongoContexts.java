package io.dats.worker.intake;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

import com.mongodb.ConnectionString;
import com.mongodb.MongoException;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.FindOneAndUpdateOptions;
import com.mongodb.client.model.IndexOptions;
import com.mongodb.client.model.Indexes;
import com.mongodb.client.model.ReturnDocument;
import com.mongodb.client.model.Sorts;
import com.mongodb.client.model.Updates;
import io.dats.worker.task.TaskVariables;
import org.apache.camel.Exchange;
import org.bson.Document;
import org.bson.conversions.Bson;
import org.bson.json.JsonMode;
import org.bson.json.JsonWriterSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contexts collection (seed 004) for routes/mongo-contexts.camel.yaml. A claim is one {@code findOneAndUpdate}:
 * the oldest context that is {@code pending}, or {@code claimed} with an expired lease, becomes {@code claimed} by this
 * worker with a fresh lease and claim id, in one atomic step on the server, so two workers never hold the same claim.
 * The write-back ({@code completed} with the result, {@code failed} with the error) goes through camel-mongodb and
 * matches the claim id, so a worker whose lease ran out cannot overwrite the next owner's outcome.
 */
public class MongoContexts implements IntakeStatus {

    /** Exchange variables of the MongoDB routes. */
    public static final String RESULT = "mongoResult";
    public static final String CONTEXT_ID = "mongoContextId";
    public static final String CLAIM_ID = "mongoClaimId";
    public static final String CLAIMED = "mongoClaimedThisPoll";

    public static final String PENDING = "pending";
    public static final String CLAIMED_STATUS = "claimed";
    public static final String COMPLETED = "completed";
    public static final String FAILED = "failed";

    /** The header camel-mongodb sets after an update: documents the filter matched. */
    static final String RECORDS_MATCHED = "CamelMongoDbRecordsMatched";

    private static final Logger LOG = LoggerFactory.getLogger(MongoContexts.class);
    private static final JsonWriterSettings JSON = JsonWriterSettings.builder().outputMode(JsonMode.RELAXED).build();

    private final MongoIntakeProperties properties;
    private final MongoCollection<Document> contexts;
    private final TierRoom tierRoom;
    private final String workerId;
    private final AtomicLong claimed = new AtomicLong();
    private final AtomicLong reclaimed = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong lost = new AtomicLong();
    private volatile boolean indexed;
    private volatile boolean reachable = true;
    private volatile String lastError;
    private volatile Instant lastErrorAt;

    public MongoContexts(MongoClient client, MongoIntakeProperties properties, TierRoom tierRoom, String workerId) {
        this.properties = properties;
        this.contexts = client.getDatabase(properties.database()).getCollection(properties.collection());
        this.tierRoom = tierRoom;
        this.workerId = workerId;
    }

    public String workerId() {
        return workerId;
    }

    /** Waits until every tier has a free slot under its bound (false: the worker stops). */
    public boolean awaitRoom(Exchange exchange) {
        return tierRoom.awaitRoom(List.of());
    }

    /** A new poll: nothing claimed yet. */
    public void startPoll(Exchange exchange) {
        PullQueue.clear(exchange);
    }

    /** The pause between polls. */
    public long pollIntervalMillis(Exchange exchange) {
        return properties.pollInterval().toMillis();
    }

    /** Whether the poll goes on: the last claim found a context and fewer than batch-size were claimed. */
    public boolean more(Exchange exchange) {
        return !"none".equals(exchange.getVariable(RESULT, String.class))
                && exchange.getVariable(CLAIMED, 0, Integer.class) < properties.batchSize();
    }

    /**
     * Claims one context. Sets {@value #RESULT} to {@code task} (the body is the task JSON, with the document's
     * {@code _id} as {@code task_id} when the task has none) or {@code none} (nothing to claim, or MongoDB did not
     * answer: logged once until it answers again).
     */
    public void claim(Exchange exchange) {
        // the loop reuses its exchange: each context starts clean (the pipeline reads variables such as the tier)
        int claimedThisPoll = exchange.getVariable(CLAIMED, 0, Integer.class);
        PullQueue.clear(exchange);
        exchange.setVariable(CLAIMED, claimedThisPoll);
        if (PullQueue.stopping(exchange)) {
            // a stopping worker claims nothing more (the loop ends at its next turn)
            exchange.setVariable(RESULT, "none");
            return;
        }
        ensureIndex();
        Date now = new Date();
        String claimId = UUID.randomUUID().toString();
        Document context;
        try {
            context = contexts.findOneAndUpdate(claimable(now),
                    Updates.combine(
                            Updates.set("status", CLAIMED_STATUS),
                            Updates.set("claimed_by", workerId),
                            Updates.set("claim_id", claimId),
                            Updates.set("claimed_at", now),
                            Updates.set("lease_expires_at", new Date(now.getTime() + properties.lease().toMillis())),
                            Updates.inc("attempts", 1)),
                    new FindOneAndUpdateOptions().sort(Sorts.ascending("created_at")).returnDocument(ReturnDocument.BEFORE));
            answered();
        } catch (MongoException e) {
            unreachable(e);
            exchange.setVariable(RESULT, "none");
            return;
        }
        if (context == null) {
            exchange.setVariable(RESULT, "none");
            return;
        }
        claimed.incrementAndGet();
        boolean wasExpired = CLAIMED_STATUS.equals(context.getString("status"));
        if (wasExpired) {
            reclaimed.incrementAndGet();
            LOG.warn("Reclaimed context {} from {} (its lease expired at {})", context.get("_id"),
                    context.getString("claimed_by"), context.get("lease_expires_at"));
        }
        Object task = context.get("task");
        Document taskDocument = task instanceof Document document ? new Document(document) : new Document();
        if (!(taskDocument.get("task_id") instanceof String)) {
            taskDocument.put("task_id", String.valueOf(context.get("_id")));
        }
        exchange.setVariable(RESULT, "task");
        exchange.setVariable(CONTEXT_ID, context.get("_id"));
        exchange.setVariable(CLAIM_ID, claimId);
        exchange.setVariable(TaskVariables.TASK_ID, taskDocument.getString("task_id"));
        exchange.setVariable(CLAIMED, claimedThisPoll + 1);
        exchange.getMessage().setBody(taskDocument.toJson(JSON));
        LOG.info("Claimed context {} (task {}) until {}", context.get("_id"), taskDocument.getString("task_id"),
                new Date(now.getTime() + properties.lease().toMillis()).toInstant());
    }

    /** Pending, or claimed by a worker whose lease ran out. */
    static Bson claimable(Date now) {
        return Filters.or(Filters.eq("status", PENDING),
                Filters.and(Filters.eq("status", CLAIMED_STATUS), Filters.lt("lease_expires_at", now)));
    }

    /** camel-mongodb's update body [filter, update]: the context completed with the output document. */
    public List<Bson> completedUpdate(Exchange exchange) {
        Document result = Document.parse(exchange.getMessage().getBody(String.class));
        return writeBack(exchange, Updates.combine(
                Updates.set("status", COMPLETED),
                Updates.set("result", result),
                Updates.set("completed_at", new Date()),
                Updates.unset("error"),
                Updates.unset("lease_expires_at")));
    }

    /** camel-mongodb's update body [filter, update]: the context failed with the task.failed event as its error. */
    public List<Bson> failedUpdate(Exchange exchange) {
        Document error = Document.parse(exchange.getVariable("failureEvent", String.class));
        return writeBack(exchange, Updates.combine(
                Updates.set("status", FAILED),
                Updates.set("error", error),
                Updates.set("completed_at", new Date()),
                Updates.unset("result"),
                Updates.unset("lease_expires_at")));
    }

    private static List<Bson> writeBack(Exchange exchange, Bson update) {
        Bson filter = Filters.and(Filters.eq("_id", exchange.getVariable(CONTEXT_ID)),
                Filters.eq("status", CLAIMED_STATUS),
                Filters.eq("claim_id", exchange.getVariable(CLAIM_ID, String.class)));
        List<Bson> body = new ArrayList<>(2);
        body.add(filter);
        body.add(update);
        return body;
    }

    /** After the write-back: counts it, or warns that the claim was lost (the lease ran out and another worker took it). */
    public void written(Exchange exchange, String status) {
        Number matched = exchange.getMessage().getHeader(RECORDS_MATCHED, Number.class);
        if (matched != null && matched.longValue() == 0) {
            lost.incrementAndGet();
            LOG.warn("Context {} (task {}) was not written as {}: its claim was lost (the lease of {} ran out and "
                            + "another worker took it)", exchange.getVariable(CONTEXT_ID),
                    exchange.getVariable(TaskVariables.TASK_ID), status, properties.lease());
            return;
        }
        (COMPLETED.equals(status) ? completed : failed).incrementAndGet();
        LOG.info("Context {} (task {}) written as {}", exchange.getVariable(CONTEXT_ID),
                exchange.getVariable(TaskVariables.TASK_ID), status);
    }

    /** A task abandoned by a stopping worker: the context stays claimed and is reclaimed after its lease. */
    public void abandoned(Exchange exchange) {
        LOG.warn("Context {} (task {}) left claimed: the worker is stopping; any worker reclaims it after the lease",
                exchange.getVariable(CONTEXT_ID), exchange.getVariable(TaskVariables.TASK_ID));
    }

    private void ensureIndex() {
        if (indexed) {
            return;
        }
        try {
            contexts.createIndex(Indexes.ascending("status", "lease_expires_at", "created_at"),
                    new IndexOptions().name("status_lease_created"));
            indexed = true;
        } catch (MongoException e) {
            LOG.warn("Could not create the index status_lease_created on {}: {}", properties.collection(), e.getMessage());
            indexed = true;
        }
    }

    private void answered() {
        if (!reachable) {
            LOG.info("MongoDB answers again");
        }
        reachable = true;
    }

    private void unreachable(MongoException e) {
        lastError = e.getClass().getSimpleName() + ": " + e.getMessage();
        lastErrorAt = Instant.now();
        if (reachable) {
            LOG.warn("MongoDB did not answer the claim ({}); polling on every {}", lastError, properties.pollInterval());
        }
        reachable = false;
    }

    @Override
    public String name() {
        return "mongo_contexts";
    }

    @Override
    public boolean enabled() {
        return properties.enabled();
    }

    @Override
    public Map<String, Object> status() {
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("hosts", new ConnectionString(properties.uri()).getHosts());
        status.put("database", properties.database());
        status.put("collection", properties.collection());
        status.put("worker_id", workerId);
        status.put("state", reachable ? "reachable" : "unreachable");
        status.put("last_error", lastError);
        status.put("last_error_at", lastErrorAt == null ? null : lastErrorAt.toString());
        status.put("claimed", claimed.get());
        status.put("reclaimed_after_lease", reclaimed.get());
        status.put("completed", completed.get());
        status.put("failed", failed.get());
        status.put("claims_lost", lost.get());
        return status;
    }
}
