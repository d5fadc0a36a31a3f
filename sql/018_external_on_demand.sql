-- lakebox catalog, migration 018 (issue 14): external feature groups and on-demand features.
--
-- An external group is a feature_groups row whose settings hold its source under "external"
-- (kind, location, query or table; never a password). This view names them for anyone reading
-- the catalog (the TUI, doctor, SQL users) without a second copy of the source.
CREATE VIEW external_feature_groups AS
    SELECT id, name, version,
           json_extract(settings, '$.external.kind')     AS source_kind,
           json_extract(settings, '$.external.location') AS source_location,
           json_extract(settings, '$.external.table')    AS source_table
    FROM feature_groups
    WHERE json_extract(settings, '$.external') IS NOT NULL;

-- On-demand features attached to a feature view: computed by one Python function from the
-- view's features and request parameters, over training rows and at serving time alike.
CREATE TABLE on_demand_features (
    view_id   INTEGER NOT NULL REFERENCES feature_views(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    spec      TEXT    NOT NULL,  -- JSON: {"function": "module:qualname", "inputs", "request", "type"}
    PRIMARY KEY (view_id, name)
);
