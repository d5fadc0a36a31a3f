"""Run a plan: register each relation in a fresh DuckDB connection, execute the SQL.

Feature groups become views over the Parquet files of their pinned snapshot (or, where
DuckDB cannot read the files exactly, an Arrow table from pyiceberg's scan); the entity
dataframe is registered as Arrow without a copy.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import QueryError
from lakebox.offline import reader
from lakebox.query.compile import Formulation, compile_plan
from lakebox.query.plan import Plan, Relation


def register(con: duckdb.DuckDBPyConnection, relation: Relation) -> None:
    if relation.frame is not None:
        con.register(relation.name, relation.frame)
        return
    tasks = reader.plan(relation.table, relation.snapshot_id) if relation.table is not None else []
    if not tasks:
        con.register(relation.name, relation.schema.empty_table())
        return
    if not reader.duckdb_can_read(relation.table, tasks):
        con.register(relation.name, reader.read(relation.table, relation.snapshot_id, relation.schema, tasks=tasks))
        return
    view = exp.Create(
        this=exp.to_table(relation.name, quoted=True),
        kind="VIEW",
        expression=exp.select(*[exp.column(c, quoted=True) for c in relation.schema.names]).from_(
            reader.parquet_source(relation.table, tasks)
        ),
    )
    con.execute(view.sql(dialect="duckdb"))


def execute(plan: Plan, formulation: Formulation = "window", limit: int | None = None) -> pa.Table:
    tree = compile_plan(plan, formulation)
    if limit is not None:
        tree = tree.limit(int(limit))
    sql = tree.sql(dialect="duckdb")
    con = reader.connect()
    try:
        seen: set[str] = set()
        for relation in [plan.spine, *[j.relation for j in plan.joins]]:
            if relation.name not in seen:
                register(con, relation)
                seen.add(relation.name)
        result = con.sql(sql).to_arrow_table()
    except duckdb.Error as e:
        raise QueryError(f"The feature query failed in DuckDB: {e}\nSQL: {sql}") from e
    finally:
        con.close()
    return _plain_types(result)


def _plain_types(result: pa.Table) -> pa.Table:
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
