"""Sources of external feature groups: data that stays where it lives and is read on demand.

``lakebox.sources.files("data/*.parquet")``, ``sources.duckdb(path, table=...)``,
``sources.sqlite(path, query=...)`` and ``sources.postgres(url, table=...)`` describe where an
external feature group's rows come from (``fs.create_external_feature_group(..., source=...)``).
A source is a value: what the catalog stores (``to_dict()``, never a password) and how to read
it as Arrow (``read()``). DuckDB reads files and DuckDB databases natively; SQLite and
PostgreSQL are read through their Arrow-native ADBC drivers (the ``sources`` extra).

This package is an engine: it takes plain values and never imports api objects.
"""

from lakebox.sources.spec import (
    FORMATS,
    KINDS,
    Source,
    duckdb,
    files,
    postgres,
    source_from_dict,
    sqlite,
)

__all__ = ["FORMATS", "KINDS", "Source", "duckdb", "files", "postgres", "source_from_dict", "sqlite"]
