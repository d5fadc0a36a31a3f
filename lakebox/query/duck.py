"""Execute on DuckDB: the one way to register a relation, connections with the box's
memory limit and spill folder, and running a compiled plan.

Feature groups become views over the Parquet data files of their pin (or, where the files
alone are not exact, the Arrow rows Iceberg's own scan returned); the entity dataframe is
registered as Arrow without a copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import QueryError, ValidationError
from lakebox.query.compile import Formulation, compile_plan
from lakebox.query.plan import Plan, Relation
from lakebox.query.refs import DELETED_FILE, DELETED_POS

MEMORY_SETTING = "duckdb_memory_limit"  # lakebox.toml key: "4GB", "512MB" or a share of RAM, "50%"
DEFAULT_MEMORY = "50%"
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


@dataclass(frozen=True)
class DuckSettings:
    """How the planner's DuckDB connections use the machine."""

    memory_limit: str | None = None  # DuckDB size text, e.g. "3.9GiB"; None: DuckDB's default
    temp_directory: str | None = None  # where a join larger than memory spills


def settings_from(box_settings: Mapping[str, Any], temp_directory: Path | None) -> DuckSettings:
    """Read ``duckdb_memory_limit`` from a box's settings (default: half the machine's RAM)."""
    value = box_settings.get(MEMORY_SETTING, DEFAULT_MEMORY)
    return DuckSettings(
        memory_limit=memory_limit(value), temp_directory=str(temp_directory) if temp_directory else None
    )


def memory_limit(value: Any) -> str:
    if isinstance(value, str) and (share := _SHARE.match(value)):
        fraction = float(share[1]) / 100
        if not 0 < fraction <= 1:
            raise ValidationError(f"{MEMORY_SETTING} = {value!r}: a share of RAM is between 0% and 100%.")
        return f"{max(1, int(_physical_memory() * fraction) // 2**20)}MiB"
    if isinstance(value, str) and (size := _SIZE.match(value)):
        return f"{size[1]}{size[2]}"
    raise ValidationError(
        f'{MEMORY_SETTING} = {value!r} in lakebox.toml is not a size: write e.g. "4GB", "512MiB" or "50%".'
    )


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def connect(settings: DuckSettings | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection: UTC session time zone, the box's memory limit and spill folder."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if settings is not None:
        if settings.memory_limit is not None:
            con.execute(f"SET memory_limit = {_quote(settings.memory_limit)}")
        if settings.temp_directory is not None:  # DuckDB creates it when it first spills
            con.execute(f"SET temp_directory = {_quote(settings.temp_directory)}")
    return con


def register(con: duckdb.DuckDBPyConnection, relation: Relation, name: str | None = None) -> None:
    """Make ``relation`` readable as ``name`` (default: its own name) in ``con``."""
    name = name or relation.name
    if relation.frame is not None:
        con.register(name, relation.frame)
        return
    pin = relation.pin
    if relation.ref is not None and pin is None:
        raise QueryError(f"Internal error: {relation.ref.label} was planned but never pinned to a snapshot.")
    if pin is None or pin.empty:
        con.register(name, relation.schema.empty_table())
        return
    if pin.exact is not None:
        con.register(name, pin.exact)
        return
    paths = exp.Array(expressions=[exp.Literal.string(path) for path in pin.files])
    columns = [exp.column(c, quoted=True) for c in relation.schema.names]
    query = exp.select(*columns).from_(exp.Anonymous(this="read_parquet", expressions=[paths]))
    if pin.deletes is not None and pin.deletes.num_rows:
        query = _without_deleted(con, paths, relation.schema.names, pin.deletes, f"{name}__deleted")
    view = exp.Create(this=exp.to_table(name, quoted=True), kind="VIEW", expression=query)
    con.execute(view.sql(dialect="duckdb"))


def _without_deleted(
    con: duckdb.DuckDBPyConnection, paths: exp.Array, names: list[str], deleted: pa.Table, deleted_name: str
) -> exp.Select:
    """The files' rows minus those a merge-on-read update deleted: DuckDB reads each row with
    its file name and row number and anti-joins the registered (file, position) pairs."""
    con.register(deleted_name, deleted)
    files = exp.Anonymous(
        this="read_parquet",
        expressions=[
            paths,
            exp.EQ(this=exp.column("filename"), expression=exp.Literal.string(DELETED_FILE)),
            exp.EQ(this=exp.column("file_row_number"), expression=exp.true()),
        ],
    )
    on = exp.and_(
        exp.EQ(this=exp.column(DELETED_FILE, "d", quoted=True), expression=exp.column(DELETED_FILE, "x", quoted=True)),
        exp.EQ(
            this=exp.column("file_row_number", "d", quoted=True), expression=exp.column(DELETED_POS, "x", quoted=True)
        ),
    )
    return (
        exp.select(*[exp.column(c, "d", quoted=True) for c in names])
        .from_(exp.Table(this=files, alias=exp.TableAlias(this=exp.to_identifier("d"))))
        .join(exp.alias_(exp.to_table(deleted_name, quoted=True), "x", table=True), on=on, join_type="ANTI")
    )


def execute(
    plan: Plan, formulation: Formulation = "window", limit: int | None = None, settings: DuckSettings | None = None
) -> pa.Table:
    tree = compile_plan(plan, formulation)
    if limit is not None:
        tree = tree.limit(int(limit))
    sql = tree.sql(dialect="duckdb")
    con = connect(settings)
    # a compiled plan ends in an explicit ORDER BY: DuckDB need not keep insertion order, which
    # lets large joins stream and spill instead of running out of memory (fs.sql keeps it)
    con.execute("SET preserve_insertion_order = false")
    try:
        with duckdb_errors(sql):
            for relation in plan.relations():
                register(con, relation)
            result = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return plain_types(result)


@contextmanager
def duckdb_errors(sql: str | None = None) -> Iterator[None]:
    """DuckDB's errors in a feature query as ``QueryError``: running out of memory names the
    setting to raise; any other error shows ``sql`` when given."""
    try:
        yield
    except duckdb.OutOfMemoryException as e:
        raise QueryError(
            f"The feature query ran out of memory in DuckDB ({e}). Raise `{MEMORY_SETTING}` in the box's "
            'lakebox.toml (a size such as "8GB" or a share of RAM such as "75%"), or query fewer rows at once.'
        ) from e
    except duckdb.Error as e:
        raise QueryError(f"The feature query failed in DuckDB: {e}" + (f"\nSQL: {sql}" if sql else "")) from e


def plain_types(result: pa.Table) -> pa.Table:
    """DuckDB names the UTC zone 'Etc/UTC'; lakebox hands out 'UTC' everywhere."""
    fields = []
    changed = False
    for f in result.schema:
        if pa.types.is_timestamp(f.type) and f.type.tz not in (None, "UTC"):
            fields.append(pa.field(f.name, pa.timestamp(f.type.unit, tz="UTC")))
            changed = True
        else:
            fields.append(f)
    return result.cast(pa.schema(fields)) if changed else result


def _quote(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")
