-- lakebox catalog, migration 016: jobs (feature pipelines), their executions and backfills.
--
-- A job is an asset (kind 'job'): triggers keep `assets` and its FTS5 index in step, as
-- migrations 004 and 005 do for the other assets, so search, tags and lineage work on jobs.
-- An execution is one run of a job's function in its own process; the process that supervises
-- it holds `lock_file` (an flock) while it lives, so a reader can tell a running execution
-- from one whose process died (it is then recorded as killed).

CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE,
    description    TEXT    NOT NULL DEFAULT '',
    entrypoint     TEXT    NOT NULL,  -- as given: "package.module:function" or a file path
    kind           TEXT    NOT NULL,  -- module | file
    target         TEXT    NOT NULL,  -- module:function, or the copied file relative to the box
    function       TEXT    NOT NULL,  -- the function's name (main for a file)
    file_hash      TEXT,              -- sha256 of the copied file
    params         TEXT    NOT NULL DEFAULT '{}',  -- JSON: default parameters
    retries        INTEGER NOT NULL DEFAULT 0 CHECK (retries >= 0),
    retry_delay_s  REAL    NOT NULL DEFAULT 1.0,   -- first backoff; doubles per retry
    timeout_s      REAL,
    created_at     TEXT    NOT NULL
);

CREATE TABLE job_backfills (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    start_at     TEXT    NOT NULL,  -- ISO-8601 UTC
    end_at       TEXT    NOT NULL,
    every_s      REAL    NOT NULL,
    parallelism  INTEGER NOT NULL DEFAULT 1,
    params       TEXT    NOT NULL DEFAULT '{}',
    state        TEXT    NOT NULL,  -- running | succeeded | failed
    created_at   TEXT    NOT NULL,
    finished_at  TEXT
);

CREATE TABLE job_executions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    number          INTEGER NOT NULL,  -- 1, 2, 3, ... per job
    state           TEXT    NOT NULL,  -- running | succeeded | failed | timed_out | killed
    trigger         TEXT    NOT NULL,  -- manual | backfill | schedule | commit
    claim           TEXT    UNIQUE,    -- what a scheduler claimed (a fire time, a commit): once only
    params          TEXT    NOT NULL DEFAULT '{}',
    backfill_id     INTEGER REFERENCES job_backfills(id) ON DELETE SET NULL,
    window_start    TEXT,
    window_end      TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    pid             INTEGER,           -- the supervising process
    host            TEXT,
    worker_pid      INTEGER,           -- the process running the function (this attempt)
    lock_file       TEXT    NOT NULL,  -- held by the supervising process while it lives
    kill_requested  INTEGER NOT NULL DEFAULT 0,
    exit_code       INTEGER,
    error           TEXT,
    log             TEXT    NOT NULL,  -- relative to the box
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    duration_s      REAL,
    UNIQUE (job_id, number)
);
CREATE INDEX job_executions_by_state ON job_executions (state, job_id);
CREATE INDEX job_executions_by_backfill ON job_executions (backfill_id);

-- the commits an execution made (found from the writer's pid in each Iceberg snapshot)
CREATE TABLE job_execution_commits (
    execution_id   INTEGER NOT NULL REFERENCES job_executions(id) ON DELETE CASCADE,
    group_id       INTEGER NOT NULL,
    group_name     TEXT    NOT NULL,
    group_version  INTEGER NOT NULL,
    commit_id      INTEGER NOT NULL,
    PRIMARY KEY (execution_id, group_id, commit_id)
);

CREATE TRIGGER jobs_ai AFTER INSERT ON jobs BEGIN
    INSERT INTO assets (kind, name, version, description, keywords, ref_id)
    VALUES ('job', new.name, NULL, new.description,
            trim(new.kind || ' ' || new.target || ' ' ||
                 coalesce((SELECT group_concat(key, ' ') FROM json_each(new.params)), '')),
            new.id);
END;

CREATE TRIGGER jobs_au AFTER UPDATE OF description, params, target ON jobs BEGIN
    UPDATE assets SET
        description = new.description,
        keywords = trim(new.kind || ' ' || new.target || ' ' ||
                        coalesce((SELECT group_concat(key, ' ') FROM json_each(new.params)), ''))
    WHERE kind = 'job' AND ref_id = new.id;
END;

CREATE TRIGGER jobs_ad AFTER DELETE ON jobs BEGIN
    DELETE FROM assets WHERE kind = 'job' AND ref_id = old.id;
END;
