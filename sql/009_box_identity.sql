-- Box identity: the box id (a uuid, also in lakebox.toml, the Iceberg catalog and the LMDB
-- environment) lets a box tell that its parts belong together. Written by CatalogDB, not here.
CREATE TABLE box_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
