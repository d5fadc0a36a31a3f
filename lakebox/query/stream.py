"""Execute a plan on DuckDB as a stream of record batches (``duck.execute`` gives a whole table).

The server hands these batches to the network one at a time (``lakebox serve``'s reads of
groups, features, batch data), so what it holds is DuckDB's working memory (bounded by the
box's ``duckdb_memory_limit``, spilling into ``<box>/.tmp``) plus one batch, never the frame.
The connection lives as long as the reader: it is closed when the last batch was read, or
when the reader is closed or dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.query import duck
from lakebox.query.build import group_relation
from lakebox.query.compile import Formulation, compile_plan
from lakebox.query.plan import Plan, Relation
from lakebox.query.refs import GroupRef, Pin

BATCH_ROWS = 64 * 1024

Transform = Callable[[pa.Table], pa.Table]


def batches(
    plan: Plan,
    formulation: Formulation = "window",
    settings: duck.DuckSettings | None = None,
    batch_rows: int = BATCH_ROWS,
    limit: int | None = None,
    offset: int = 0,
    schema: pa.Schema | None = None,
    transform: Transform | None = None,
) -> pa.RecordBatchReader:
    """The rows of a bound ``plan`` (in its order), ``batch_rows`` at a time. ``schema`` casts
    every batch to it (a group's own types); ``transform`` maps each batch (as a table) after
    that, and must keep rows independent (on-demand features, fitted transformations)."""
    tree = compile_plan(plan, formulation)
    return _run(tree, plan.relations(), settings, batch_rows, limit, offset, schema, transform)


def group_batches(
    ref: GroupRef,
    pin: Pin,
    settings: duck.DuckSettings | None = None,
    batch_rows: int = BATCH_ROWS,
    limit: int | None = None,
    offset: int = 0,
) -> pa.RecordBatchReader:
    """One group's rows at ``pin`` ordered by its key and event time (``fg.read``): a plain
    sorted scan, which DuckDB spills to disk beyond its memory limit (a plan's window would
    hold the group in memory)."""
    relation = group_relation(ref)
    relation.pin = pin
    order = [*ref.primary_key, *([ref.event_time] if ref.event_time else [])]
    tree = exp.select(*[exp.column(c, quoted=True) for c in ref.columns]).from_(
        exp.to_table(relation.name, quoted=True)
    )
    if order:
        tree = tree.order_by(*[exp.column(c, quoted=True) for c in order])
    return _run(tree, [relation], settings, batch_rows, limit, offset, ref.schema, None)


def _run(tree: exp.Select, relations: list[Relation], settings: duck.DuckSettings | None, batch_rows: int,
         limit: int | None, offset: int, schema: pa.Schema | None, transform: Transform | None) -> pa.RecordBatchReader:  # fmt: skip
    if limit is not None:
        tree = tree.limit(int(limit))
    if offset:
        tree = tree.offset(int(offset))
    sql = tree.sql(dialect="duckdb")
    con = duck.connect(settings)
    con.execute("SET preserve_insertion_order = false")  # the query ends in ORDER BY: let big joins stream
    try:
        with duck.duckdb_errors(sql):
            for relation in relations:
                duck.register(con, relation)
            reader = con.sql(sql).to_arrow_reader(batch_rows)
    except BaseException:
        con.close()
        raise
    target = schema if schema is not None else duck.plain_types(reader.schema.empty_table()).schema

    def shaped(batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch]).select(target.names).cast(target)
        return transform(table) if transform is not None else table

    out_schema = shaped(_empty_batch(reader.schema)).schema  # what a transform makes of no rows

    def rows() -> Iterator[pa.RecordBatch]:
        try:
            with duck.duckdb_errors():
                for batch in reader:
                    yield from shaped(batch).cast(out_schema).to_batches()
        finally:
            reader.close()
            con.close()

    return pa.RecordBatchReader.from_batches(out_schema, rows())


def _empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)
