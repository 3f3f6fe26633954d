-- The task store: one row per task id, whichever intake it came by. Portable between H2 and PostgreSQL.
CREATE TABLE worker_task (
    task_id      VARCHAR(200) PRIMARY KEY,
    status       VARCHAR(16)  NOT NULL,
    source       VARCHAR(16),
    tier         VARCHAR(100),
    domain       VARCHAR(100),
    runs         INTEGER      NOT NULL DEFAULT 0,
    queued_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    started_at   TIMESTAMP WITH TIME ZONE,
    completed_at TIMESTAMP WITH TIME ZONE,
    result       TEXT,
    error        TEXT
);

CREATE INDEX worker_task_queued_at ON worker_task (queued_at);
CREATE INDEX worker_task_status_tier ON worker_task (status, tier);
