"""The query engine: SQL as sqlglot trees, executed by DuckDB over the offline store's files."""
