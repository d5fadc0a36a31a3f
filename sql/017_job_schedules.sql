-- lakebox catalog, migration 017: job schedules (cron) and commit triggers.
--
-- A scheduler claims each due run by inserting its execution with a unique `claim`
-- (job_executions.claim), so two schedulers on one box run every due execution once.

CREATE TABLE job_schedules (
    job_id      INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    cron        TEXT,              -- NULL: triggered by commits only
    timezone    TEXT    NOT NULL DEFAULT 'UTC',
    start_at    TEXT    NOT NULL,  -- fire times after this count (ISO-8601 UTC)
    end_at      TEXT,              -- no fire time after this
    catch_up    INTEGER NOT NULL DEFAULT 0,
    last_fire   TEXT,              -- the last fire time claimed or skipped
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT    NOT NULL
);

CREATE TABLE job_triggers (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    last_commit  INTEGER NOT NULL DEFAULT 0,  -- the newest commit of the group already handled
    PRIMARY KEY (job_id, group_id)
);
