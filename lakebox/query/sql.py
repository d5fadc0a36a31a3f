"""``fs.sql``: read-only SQL over feature groups exposed as ``name_version`` relations.

User SQL is parsed by sqlglot only to learn which tables it names (so only those groups are
pinned and read); DuckDB itself checks that the text is a single SELECT. Each relation reads
the Parquet files of the group's pin. The connection is then locked down (no file access
outside the box, no extensions; the spill folder is inside the box too), so user text can
read lakebox data and nothing else. Text nested deeper than ``MAX_NESTING`` is refused
before any parser recurses into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from lakebox.errors import QueryError, ValidationError
from lakebox.names import closest
from lakebox.query import duck
from lakebox.query.bind import PinResolver
from lakebox.query.build import group_relation
from lakebox.query.plan import Relation
from lakebox.query.refs import GroupRef

MAX_SQL_LENGTH = 100_000
MAX_NESTING = 256  # parentheses deep; deeper text would exhaust the parsers' recursion


def check_query(query: Any, as_of: Any = None) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("fs.sql needs a non-empty SQL string.")
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        raise ValidationError("fs.sql(as_of=...) takes a time, not a commit id: commit ids are per feature group.")
    if len(query) > MAX_SQL_LENGTH:
        raise ValidationError(f"The SQL text is longer than {MAX_SQL_LENGTH} characters.")
    if nesting(query) > MAX_NESTING:
        raise QueryError(f"The SQL is nested more than {MAX_NESTING} parentheses deep; flatten it (use CTEs).")
    return query


def nesting(query: str) -> int:
    """The deepest parenthesis nesting outside quoted text."""
    depth = deepest = 0
    quote: str | None = None
    for char in query:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def relation_names(refs: Sequence[GroupRef]) -> dict[str, GroupRef]:
    """``{"players_1": players v1, ..., "players": players at its latest version}``."""
    names: dict[str, GroupRef] = {}
    latest: dict[str, GroupRef] = {}
    for ref in refs:
        names[ref.relation] = ref
        if ref.name not in latest or ref.version > latest[ref.name].version:
            latest[ref.name] = ref
    for name, ref in latest.items():
        names.setdefault(name, ref)  # a versioned name always wins a clash
    return names


def referenced_tables(query: str, dialect: str = "duckdb") -> set[str] | None:
    """Table names the query reads (CTE names excluded); None if sqlglot cannot parse it."""
    try:
        statements = sqlglot.parse(query, read=dialect)
    except (sqlglot.errors.SqlglotError, RecursionError):
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


def sql_relations(
    query: str, refs: Sequence[GroupRef], as_of: Any, pin_of: PinResolver, dialect: str = "duckdb"
) -> tuple[list[Relation], list[str], bool]:
    """The pinned relations the query reads, the names it may read, and whether sqlglot
    could tell which (when it cannot, every group is exposed and the engine decides)."""
    available = relation_names(refs)
    wanted = referenced_tables(query, dialect)
    explicit = wanted is not None
    names = sorted(wanted if wanted is not None else available)
    relations = []
    for name in names:
        ref = available.get(name)
        if ref is None:
            continue
        if not ref.columns:
            if explicit:
                raise QueryError(f"Feature group {name} ({ref.label}) has no schema yet: insert data first.")
            continue
        relation = group_relation(ref, as_of, name)
        relations.append(replace(relation, pin=pin_of(ref, as_of)))
    return relations, sorted(available), explicit


def unknown_table(error: Exception, query: str, available: Sequence[str], dialect: str = "duckdb") -> QueryError:
    unknown = sorted(n for n in (referenced_tables(query, dialect) or set()) if n not in available)
    hints = {n: closest(n, available) for n in unknown}
    return QueryError(
        f"{error}. Feature groups are exposed as name_version (e.g. {next(iter(available), 'players_1')}); "
        + (f"unknown: {hints}." if hints else ""),
    )


def run_sql(
    query: str,
    relations: Sequence[Relation],
    available: Sequence[str],
    allowed_directories: Sequence[str],
    settings: duck.DuckSettings | None = None,
) -> pa.Table:
    """Run the checked ``query`` on DuckDB over the pinned ``relations``."""
    con = duck.connect(settings)
    try:
        _check_single_select(con, query)
        for relation in relations:
            duck.register(con, relation)
        directories = exp.Array(expressions=[exp.Literal.string(d) for d in allowed_directories])
        con.execute(f"SET allowed_directories = {directories.sql(dialect='duckdb')}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con.sql(query).to_arrow_table()
    except duckdb.CatalogException as e:
        if "Table" not in str(e):
            raise QueryError(f"The query failed in DuckDB: {e}") from e
        raise unknown_table(e, query, available) from e
    except duckdb.Error as e:
        raise QueryError(f"The query failed in DuckDB: {e}") from e
    except RecursionError as e:
        raise QueryError("The SQL is nested too deeply to run; flatten it (use CTEs).") from e
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


