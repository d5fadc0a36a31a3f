-- lakebox catalog, migration 008: the running statistics summary of a group after each commit
-- (lakebox.stats.Summary.to_dict(): counts, moments, sketches; a few KB per feature whatever the
-- group's size), so that the statistics of a commit are the previous summary merged with the
-- batch (and minus the rows it replaced or deleted) instead of a pass over the whole group.

CREATE TABLE statistics_summaries (
    group_id     INTEGER NOT NULL REFERENCES feature_groups(id) ON DELETE CASCADE,
    commit_id    INTEGER NOT NULL,
    computed_at  TEXT    NOT NULL,
    exact        INTEGER NOT NULL,  -- 0 once an update/delete left a part approximate
    summary      TEXT    NOT NULL,  -- JSON of lakebox.stats.Summary.to_dict()
    PRIMARY KEY (group_id, commit_id)
);
