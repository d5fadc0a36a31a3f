"""Execute on Apache Spark: the planner's portable (window) formulation over each group's
pinned data files, returning a Spark DataFrame.

- Each group is read at its pin from exactly the Parquet data files Iceberg's scan planning
  returned. A pin with lakebox's merge-on-read position deletes (``Pin.deletes``) is read
  through DuckDB, which anti-joins them; one with other delete kinds uses the exact rows
  Iceberg's scan read (``Pin.exact``) or is refused: its data files alone hold deleted rows.
- The spine is numbered before Spark sees it (in Arrow for pandas/polars/Arrow spines, with
  ``monotonically_increasing_id()`` for a Spark DataFrame), so the window formulation never
  needs ``ROW_NUMBER() OVER ()`` without an order; the output is ordered by that number.
- Relations are handed to ``spark.sql`` as DataFrame arguments (no temp views are left in the
  session). Interval arithmetic on instants does not depend on the session time zone; time
  literals carry their UTC offset.

pyspark is imported lazily: ``import lakebox`` never loads it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import sqlglot
import sqlglot.expressions as exp

from lakebox.errors import MissingDependencyError, QueryError, SchemaMismatchError, ValidationError
from lakebox.query.compile import compile_plan
from lakebox.query.plan import ROW, Plan, Relation
from lakebox.query.refs import GroupRef
from lakebox.query.spine import SPINE, key_types, spine_event_time

INSTALL = "Install it with `bash scripts/install.sh spark` or `pip install 'lakebox[spark]'`"


def require() -> Any:
    """The pyspark module, or a MissingDependencyError saying what to install."""
    try:
        import pyspark
    except ImportError:
        raise MissingDependencyError(f"engine='spark' needs pyspark (4.x). {INSTALL}.") from None
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise MissingDependencyError(
            "engine='spark' needs a Java runtime (17 or newer) for Spark: install one (e.g. `apt-get install "
            f"openjdk-17-jre-headless`) or set JAVA_HOME. {INSTALL} brings pyspark itself."
        )
    return pyspark


def is_spark_frame(value: Any) -> bool:
    return type(value).__module__.startswith("pyspark.") and hasattr(value, "sparkSession")


@contextmanager
def _quiet() -> Iterator[None]:
    """pyspark warns about pandas versions on Arrow conversions lakebox does not route via pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*", category=FutureWarning)
        yield


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=False)


def from_arrow(spark: Any, table: pa.Table) -> Any:
    with _quiet():
        if table.num_rows == 0:
            return spark.createDataFrame([], _spark_schema(table.schema))
        return spark.createDataFrame(table)


def group_frame(spark: Any, relation: Relation) -> Any:
    """The group's rows at its pin, as a DataFrame with the group's columns."""
    ref, pin = relation.ref, relation.pin
    assert ref is not None
    if pin is None:
        raise QueryError(f"Internal error: {ref.label} was planned but never pinned to a snapshot.")
    if pin.deletes is not None and pin.exact is None:  # lakebox's position deletes: DuckDB applies them
        return from_arrow(spark, _duck_rows(relation))
    if pin.has_deletes and pin.exact is None:
        raise QueryError(
            f"Feature group {ref.label} (Iceberg table {ref.identifier}) has delete files at snapshot "
            f"{pin.snapshot_id}: reading its data files alone would return deleted rows. Compact the group "
            "(fg.compact()) or use engine='duckdb'."
        )
    if pin.empty:
        return from_arrow(spark, relation.schema.empty_table())
    if pin.exact is not None:  # an evolved schema: Iceberg's own scan, not Parquet names
        return from_arrow(spark, pin.exact)
    columns = relation.schema.names
    return spark.read.schema(_spark_schema(relation.schema)).parquet(*pin.files).select(*columns)


def _duck_rows(relation: Relation) -> Any:
    """A pinned group's rows with its merge-on-read deletes applied, read by DuckDB."""
    from lakebox.query import duck

    con = duck.connect()
    try:
        duck.register(con, relation, "lakebox_group")
        return duck.plain_types(con.sql('SELECT * FROM "lakebox_group"').to_arrow_table())
    finally:
        con.close()


def spine_relation(frame: Any, event_time: str | None, groups: Iterable[GroupRef]) -> Relation:
    """A Spark DataFrame as the spine: key columns cast to the groups' key types, times and keys
    checked for nulls, rows numbered in the frame's own order."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import TimestampNTZType

    columns = frame.columns
    if ROW in columns:
        raise ValidationError(f"The entity_df may not have a column named {ROW!r}.")
    keys = key_types(groups)
    for field in frame.schema.fields:
        if isinstance(field.dataType, TimestampNTZType):
            raise SchemaMismatchError(
                f"The entity_df's column {field.name!r} is TIMESTAMP_NTZ (no time zone); cast it to TIMESTAMP "
                "(an instant) so that it compares with the groups' UTC event times.",
                column=field.name,
            )
    for name, dtype in keys.items():
        if name in columns:
            target = _spark_schema(pa.schema([pa.field(name, dtype)])).fields[0].dataType
            if frame.schema[name].dataType != target:
                frame = frame.withColumn(name, F.col(name).cast(target))
    schema = to_arrow_schema(frame.schema, timezone="UTC")
    time_column = spine_event_time(schema, event_time)
    checked = [k for k in keys if k in columns] + ([time_column] if time_column else [])
    if checked:
        nulls = frame.select(*[F.sum(F.col(c).isNull().cast("long")).alias(c) for c in checked]).first()
        bad = [c for c in checked if nulls is not None and (nulls[c] or 0) > 0]
        if bad:
            raise ValidationError(f"The entity_df's column(s) {bad} hold nulls; drop or fill those rows first.")
    numbered = frame.withColumn(ROW, F.monotonically_increasing_id())
    full = schema.append(pa.field(ROW, pa.int64()))
    return Relation(name=SPINE, schema=full, primary_key=[], event_time=time_column, frame=numbered)


def _frame(spark: Any, relation: Relation) -> Any:
    if relation.frame is not None:
        if isinstance(relation.frame, pa.Table):
            return from_arrow(spark, relation.frame)
        return relation.frame
    return group_frame(spark, relation)


def _run(spark: Any, tree: exp.Expr, frames: dict[str, Any]) -> Any:
    """``spark.sql`` over ``tree`` whose relation names are the keys of ``frames``."""
    text = tree.sql(dialect="spark").replace("{", "{{").replace("}", "}}")
    for name in frames:
        text = text.replace(f"`{name}`", "{" + name + "}")
    with _quiet():
        try:
            return spark.sql(text, **frames)
        except Exception as e:  # pyspark raises AnalysisException, ParseException, Py4J errors ...
            if type(e).__module__.startswith(("pyspark", "py4j")):
                raise QueryError(f"The query failed in Spark: {e}") from e
            raise


def execute(plan: Plan, spark: Any) -> Any:
    """The plan on Spark (window formulation): a DataFrame ordered like the spine."""
    require()
    token = secrets.token_hex(4)
    names = {r.name: f"lb_{token}_{i}" for i, r in enumerate(plan.relations())}
    frames = {names[r.name]: _frame(spark, r) for r in plan.relations()}
    return _run(spark, compile_plan(plan, "window", names), frames)


def run_sql(spark: Any, query: str, relations: Sequence[Relation], available: Sequence[str]) -> Any:
    """``fs.sql(..., engine="spark")``: one read-only Spark SQL query over the pinned groups."""
    require()
    try:
        statements = [s for s in sqlglot.parse(query, read="spark") if s is not None]
    except (sqlglot.errors.SqlglotError, RecursionError) as e:
        raise QueryError(f"Cannot parse the SQL: {e}") from e
    if len(statements) != 1:
        raise QueryError(f"fs.sql runs exactly one statement; got {len(statements)}.")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryError(
            f"fs.sql is read-only: only SELECT queries are allowed, got {statement.key.upper()}. "
            "Write data with fg.insert / fg.delete_records."
        )
    token = secrets.token_hex(4)
    by_name = {r.name: r for r in relations}
    names = {name: f"lb_{token}_{i}" for i, name in enumerate(sorted(by_name))}
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    unknown = sorted(
        t.name for t in statement.find_all(exp.Table) if t.name and not t.db and t.name not in ctes and t.name.lower() not in by_name
    )
    if unknown:
        from lakebox.query.sql import unknown_table

        raise unknown_table(QueryError(f"Unknown table(s) {unknown}"), query, available, dialect="spark")

    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and not node.db and node.name not in ctes and node.name.lower() in names:
            alias = node.alias or node.name
            return exp.alias_(exp.Table(this=exp.to_identifier(names[node.name.lower()], quoted=True)), alias, table=True)
        return node

    tree = statement.transform(rename)
    frames = {names[name]: _frame(spark, relation) for name, relation in by_name.items()}
    return _run(spark, tree, frames)


def collect(frame: Any, plan: Plan) -> pa.Table:
    """A Spark result as Arrow with exactly the types the DuckDB engine returns (the sources')."""
    with _quiet():
        table = frame.toArrow()
    sources = {plan.spine_alias: plan.spine, **{j.alias: j.relation for j in plan.joins}}
    schema = pa.schema([pa.field(o.name, sources[o.alias].schema.field(o.column).type) for o in plan.outputs])
    return table.cast(schema)
