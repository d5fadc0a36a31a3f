"""``fs.sql``: read-only DuckDB SQL over feature groups exposed as ``name_version`` views.

User SQL is parsed by sqlglot only to learn which tables it names (so only those groups are
planned); DuckDB itself checks that the text is a single SELECT. Each view reads the Parquet
files of the group's snapshot. The connection is then locked down (no file access outside the
box's warehouse, no extensions), so user text can read lakebox data and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from lakebox.errors import QueryError, ValidationError
from lakebox.names import closest
from lakebox.offline import reader

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_store import FeatureStore

MAX_SQL_LENGTH = 100_000


def relation_names(store: FeatureStore) -> dict[str, tuple[str, int]]:
    """``{"players_1": ("players", 1), ..., "players": ("players", latest)}``."""
    names: dict[str, tuple[str, int]] = {}
    latest: dict[str, int] = {}
    for row in store._groups.list():
        names[f"{row.name}_{row.version}"] = (row.name, row.version)
        latest[row.name] = max(latest.get(row.name, 0), row.version)
    for name, version in latest.items():
        names.setdefault(name, (name, version))  # a versioned name always wins a clash
    return names


def referenced_tables(query: str) -> set[str] | None:
    """Table names the query reads (CTE names excluded); None if sqlglot cannot parse it."""
    try:
        statements = sqlglot.parse(query, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None
    tables: set[str] = set()
    for statement in statements:
        if statement is None:
            continue
        ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            # DuckDB matches identifiers case-insensitively: so do we ("FROM Players_1")
            if table.name and table.db in ("", "main") and table.name not in ctes:
                tables.add(table.name.lower())
    return tables


def run_sql(store: FeatureStore, query: str, as_of: Any = None) -> pa.Table:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("fs.sql needs a non-empty SQL string.")
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        raise ValidationError(
            "fs.sql(as_of=...) takes a time, not a commit id: commit ids are per feature group."
        )
    if len(query) > MAX_SQL_LENGTH:
        raise ValidationError(f"The SQL text is longer than {MAX_SQL_LENGTH} characters.")
    available = relation_names(store)
    wanted = referenced_tables(query)
    explicit = wanted is not None
    if wanted is None:
        wanted = set(available)  # sqlglot could not parse it: expose every group, DuckDB decides
    con = reader.connect()
    try:
        _check_single_select(con, query)
        for name in sorted(wanted):
            if name not in available:
                continue
            group_name, version = available[name]
            group = store.get_feature_group(group_name, version)
            if not group.features:
                if explicit:
                    raise QueryError(f"Feature group {name} ({group_name} v{version}) has no schema yet: insert data first.")
                continue
            _register(con, name, group, as_of)
        con.execute(f"SET allowed_directories = [{_quote(str(store._project._box.warehouse))}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con.sql(query).to_arrow_table()
    except duckdb.CatalogException as e:
        if "Table" not in str(e):
            raise QueryError(f"The query failed in DuckDB: {e}") from e
        unknown = sorted(n for n in wanted if n not in available)
        hints = {n: closest(n, available) for n in unknown}
        raise QueryError(
            f"{e}. Feature groups are exposed as name_version (e.g. {next(iter(available), 'players_1')}); "
            + (f"unknown: {hints}." if hints else ""),
        ) from e
    except duckdb.Error as e:
        raise QueryError(f"The query failed in DuckDB: {e}") from e
    finally:
        con.close()


def _check_single_select(con: duckdb.DuckDBPyConnection, query: str) -> None:
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as e:
        raise QueryError(f"Cannot parse the SQL: {e}") from e
    if len(statements) != 1:
        raise QueryError(f"fs.sql runs exactly one statement; got {len(statements)}.")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError(
            f"fs.sql is read-only: only SELECT queries are allowed, got {statements[0].type.name}. "
            "Write data with fg.insert / fg.delete_records."
        )


def _register(con: duckdb.DuckDBPyConnection, name: str, group: FeatureGroup, as_of: Any) -> None:
    table, snapshot_id = group._snapshot_at(as_of)
    schema = group._output_schema()
    tasks = reader.plan(table, snapshot_id) if table is not None else []
    if not tasks:
        con.register(name, schema.empty_table())
        return
    if not reader.duckdb_can_read(table, tasks):
        con.register(name, reader.read(table, snapshot_id, schema, tasks=tasks))
        return
    view = exp.Create(
        this=exp.to_table(name, quoted=True),
        kind="VIEW",
        expression=exp.select(*[exp.column(c, quoted=True) for c in schema.names]).from_(reader.parquet_source(table, tasks)),
    )
    con.execute(view.sql(dialect="duckdb"))


def _quote(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")
