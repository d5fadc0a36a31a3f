"""External feature groups over real sources: Parquet, CSV and JSON files, a DuckDB file, a
SQLite file (ADBC) — reads, checks, errors, no history, read-only, copying into lakebox."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lakebox
import lakebox.sources as sources
from lakebox import expect
from lakebox.external_group import ExternalFeatureGroup
from lakebox.names import NameLoweredWarning
from lakebox.sources.conform import conform

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def orders(n: int = 6) -> pa.Table:
    return pa.table({
        "order_id": pa.array([i % 3 for i in range(n)], pa.int64()),
        "ts": pa.array([T0 + timedelta(days=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([float(10 * i) for i in range(n)]),
        "shop": pa.array([f"s{i % 2}" for i in range(n)]),
    })


def naive(table: pa.Table) -> pa.Table:
    return table.set_column(1, "ts", table.column("ts").cast(pa.timestamp("us")))


def write_sqlite(path: Path, table: pa.Table) -> None:
    con = sqlite3.connect(path)
    frame = table.to_pandas()
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_sql("orders", con, index=False, if_exists="replace")
    con.close()


def write_duckdb(path: Path, table: pa.Table) -> None:
    con = duckdb.connect(str(path))
    con.register("incoming", table)
    con.execute("CREATE OR REPLACE TABLE orders AS SELECT * FROM incoming")
    con.close()


def make_source(kind: str, folder: Path, table: pa.Table) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "parquet":
        half = table.num_rows // 2
        pq.write_table(table.slice(0, half), folder / "part-0.parquet")
        pq.write_table(table.slice(half), folder / "part-1.parquet")
        return sources.files(folder / "*.parquet")
    if kind == "csv":
        naive(table).to_pandas().to_csv(folder / "orders.csv", index=False)
        return sources.files(folder / "orders.csv")
    if kind == "json":
        with open(folder / "orders.jsonl", "w") as out:
            for row in table.to_pylist():
                out.write(json.dumps({**row, "ts": row["ts"].isoformat()}) + "\n")
        return sources.files(folder / "orders.jsonl")
    if kind == "duckdb":
        write_duckdb(folder / "shop.duckdb", table)
        return sources.duckdb(folder / "shop.duckdb", table="orders")
    if kind == "sqlite":
        pytest.importorskip("adbc_driver_sqlite", reason="the 'sources' extra (adbc-driver-sqlite) is not installed")
        write_sqlite(folder / "shop.db", table)
        return sources.sqlite(folder / "shop.db", table="orders")
    raise AssertionError(kind)


KINDS = ["parquet", "csv", "json", "duckdb", "sqlite"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_source_reads_the_same_rows(fs: Any, tmp_path: Path, kind: str) -> None:
    data = orders()
    source = make_source(kind, tmp_path / "src", data)
    ext = fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts",
                                           description="orders in the shop")
    assert isinstance(ext, ExternalFeatureGroup) and ext.is_external
    assert [f.name for f in ext.features] == ["order_id", "ts", "amount", "shop"]
    assert [f.type for f in ext.features][:3] == ["bigint", "timestamp", "double"]
    got = ext.read(dataframe_type="arrow")
    want = data.sort_by([("order_id", "ascending"), ("ts", "ascending")])
    assert got.column("ts").type == pa.timestamp("us", tz="UTC")
    assert got.select(["order_id", "ts", "amount", "shop"]).to_pylist() == want.to_pylist()
    assert ext.read(limit=2, offset=1, dataframe_type="arrow").to_pylist() == want.slice(1, 2).to_pylist()
    # a query over it, filtered like any group
    q = ext.select(["order_id", "amount"]).filter(ext.amount > 20)
    assert sorted(q.read()["amount"]) == [30.0, 40.0, 50.0]
    stats = ext.get_statistics().to_dict()
    assert stats["amount"]["count"] == 6 and stats["amount"]["max"] == 50.0


def test_a_source_change_is_seen_at_the_next_read(fs: Any, tmp_path: Path) -> None:
    source = make_source("parquet", tmp_path / "src", orders(4))
    ext = fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    assert ext.read().shape[0] == 4
    pq.write_table(orders(6).slice(4), tmp_path / "src" / "part-2.parquet")
    assert ext.read().shape[0] == 6
    # and from a fresh handle: the catalog row says where to read
    assert fs.get_external_feature_groups()[0].read().shape[0] == 6


def test_duplicate_keys_in_the_source_are_a_clear_error_on_read(fs: Any, tmp_path: Path) -> None:
    source = make_source("duckdb", tmp_path / "src", orders(4))
    ext = fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    con = duckdb.connect(str(tmp_path / "src" / "shop.duckdb"))
    con.execute("INSERT INTO orders SELECT * FROM orders WHERE order_id = 1")
    con.close()
    with pytest.raises(lakebox.DuplicateKeyError, match=r"external feature group orders v1 .*duckdb.*order_id"):
        ext.read()
    with pytest.raises(lakebox.DuplicateKeyError):
        ext.select_all().read()


def test_creation_checks_the_source_and_records_nothing_when_it_fails(fs: Any, tmp_path: Path) -> None:
    data = orders(4)
    source = make_source("parquet", tmp_path / "src", pa.concat_tables([data, data.slice(0, 1)]))
    with pytest.raises(lakebox.DuplicateKeyError, match="orders v1"):
        fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    with pytest.raises(lakebox.SchemaMismatchError, match="nope"):
        fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="nope")
    with pytest.raises(lakebox.NotFoundError, match="No files match"):
        fs.create_external_feature_group("orders", source=sources.files(tmp_path / "none" / "*.parquet"),
                                         primary_key=["order_id"])
    with pytest.raises(lakebox.NotFoundError, match="does not exist"):
        fs.create_external_feature_group("orders", source=sources.sqlite(tmp_path / "none.db", table="t"),
                                         primary_key=["order_id"])
    with pytest.raises(lakebox.QueryError, match="missing_table"):
        fs.create_external_feature_group(
            "orders", source=sources.duckdb(make_source("duckdb", tmp_path / "d", data).location, table="missing_table"),
            primary_key=["order_id"])
    assert fs.get_feature_groups() == []


def test_source_constructors_refuse_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(lakebox.ValidationError, match="exactly one of query"):
        sources.sqlite(tmp_path / "a.db")
    with pytest.raises(lakebox.ValidationError, match="exactly one of query"):
        sources.duckdb(tmp_path / "a.duckdb", query="SELECT 1", table="t")
    with pytest.raises(lakebox.ValidationError, match="not a table name"):
        sources.sqlite(tmp_path / "a.db", table="t; DROP TABLE t")
    with pytest.raises(lakebox.ValidationError, match="format"):
        sources.files(tmp_path / "data.txt")
    with pytest.raises(lakebox.ValidationError, match="holds a password"):
        sources.postgres("postgresql://me:hunter2@127.0.0.1/db", table="t")
    with pytest.raises(lakebox.ValidationError, match="IANA"):
        sources.files(tmp_path / "a.csv", timezone="Mars/Olympus")


def test_query_sources_and_naive_times_in_a_zone(fs: Any, tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    write_duckdb(path, naive(orders(4)))
    source = sources.duckdb(path, query="SELECT order_id, ts, amount * 2 AS doubled FROM orders WHERE amount > 0",
                            timezone="Europe/Berlin")
    ext = fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    rows = ext.read(dataframe_type="arrow")
    assert rows.column_names == ["order_id", "ts", "doubled"]
    first = next(r for r in rows.to_pylist() if r["order_id"] == 1)
    assert first["ts"] == T0 + timedelta(days=1) - timedelta(hours=1)  # Berlin is UTC+1 in January


def test_no_history_and_read_only(fs: Any, tmp_path: Path) -> None:
    ext = fs.create_external_feature_group("orders", source=make_source("parquet", tmp_path / "s", orders()),
                                           primary_key=["order_id"], event_time="ts")
    past = T0 - timedelta(days=3)
    with pytest.raises(lakebox.QueryError, match=r"External feature group orders v1 has no history"):
        ext.as_of(past)
    with pytest.raises(lakebox.QueryError, match="orders v1"):
        ext.read(wallclock_time=past)
    with pytest.raises(lakebox.QueryError, match="orders v1"):
        ext.select_all().as_of(past).read()
    with pytest.raises(lakebox.ValidationError, match="read-only"):
        ext.insert(orders().to_pandas())
    with pytest.raises(lakebox.ValidationError, match="read-only"):
        ext.save(orders().to_pandas())  # hsfs' save of a dataframe
    assert ext.save() is None  # hsfs' save() of an external group: registered at creation already
    with pytest.raises(lakebox.ValidationError, match="read-only"):
        ext.delete_records(pd.DataFrame({"order_id": [1]}))
    with pytest.raises(lakebox.ValidationError, match="not served online"):
        ext.read(online=True)
    assert ext.commits() == [] and ext.commit_details() == {}


def test_expectations_are_checked_on_read(fs: Any, tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    write_duckdb(path, orders(4))
    ext = fs.create_external_feature_group("orders", source=sources.duckdb(path, table="orders"),
                                           primary_key=["order_id"], event_time="ts",
                                           expectations=[expect.between("amount", 0, 100)])
    assert ext.validate().success
    con = duckdb.connect(str(path))
    con.execute("UPDATE orders SET amount = 1000 WHERE order_id = 2")
    con.close()
    assert not ext.validate().success
    with pytest.raises(lakebox.ValidationError, match="expectations"):
        ext.read()
    assert ext.get_validation_reports()[-1]["success"] is False


def test_to_internal_copies_into_an_iceberg_group(fs: Any, tmp_path: Path) -> None:
    ext = fs.create_external_feature_group("orders", source=make_source("csv", tmp_path / "s", orders()),
                                           primary_key=["order_id"], event_time="ts")
    internal = ext.to_internal()
    assert (internal.name, internal.version) == ("orders", 2)
    assert not isinstance(internal, ExternalFeatureGroup)
    assert internal.read(dataframe_type="arrow").to_pylist() == ext.read(dataframe_type="arrow").to_pylist()
    assert len(internal.commits()) == 1


def test_search_lineage_describe_and_delete(project: Any, fs: Any, tmp_path: Path) -> None:
    ext = fs.create_external_feature_group("orders", source=make_source("parquet", tmp_path / "s", orders()),
                                           primary_key=["order_id"], event_time="ts")
    hits = project.search("external")
    assert [(h.kind, h.name) for h in hits] == [("feature_group", "orders")]
    assert ("feature", "amount") in [(h.kind, h.name) for h in project.search("amount")]
    assert fs.get_external_feature_group("orders").id == ext.id
    assert [g.version for g in fs.get_external_feature_groups("orders")] == [1]
    plain = fs.create_feature_group("plain", primary_key=["order_id"])
    with pytest.raises(lakebox.ValidationError, match="not external"):
        fs.get_external_feature_group(plain.name)
    plain.delete()
    info = ext.describe()
    assert info["external"] is True and info["source"]["kind"] == "files"
    ext.add_tag("owner", "shop-team")
    assert fs.get_external_feature_groups()[0].get_tags() == {"owner": "shop-team"}
    ext.delete()
    assert fs.get_feature_groups() == []
    assert (tmp_path / "s" / "part-0.parquet").exists()  # the source is untouched


def test_mixed_case_source_columns_are_lower_cased(fs: Any, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("OrderID,TS,Amount\n1,2026-01-01 00:00:00,1.5\n2,2026-01-02 00:00:00,2.5\n")
    with pytest.warns(NameLoweredWarning):  # hsfs code names them as the source does
        ext = fs.create_external_feature_group("Orders", source=sources.files(path), primary_key=["OrderID"],
                                               event_time="TS")
    assert (ext.name, ext.primary_key, ext.event_time) == ("orders", ["orderid"], "ts")
    assert list(ext.read().columns) == ["orderid", "ts", "amount"]
    # (DuckDB itself renames columns that differ only in case; PostgreSQL can return such pairs)
    clash = pa.table({"id": [1], "ID": [2]})
    with pytest.raises(lakebox.SchemaMismatchError, match="differ only in case"):
        conform(clash, sources.files(path), schema=None, primary_key=["id"], event_time=None, label="clash v1")


def test_hsfs_spelling_path_and_data_format(fs: Any, tmp_path: Path) -> None:
    make_source("parquet", tmp_path / "lake", orders())
    ext = fs.create_external_feature_group("orders", version=1, data_format="PARQUET", path=str(tmp_path / "lake"),
                                           primary_key=["order_id"], event_time="ts", statistics_config={"enabled": True})
    assert ext.read().shape[0] == 6
    with pytest.raises(lakebox.ValidationError, match=r"not supported by lakebox.*sources.postgres"):
        fs.create_external_feature_group("q", query="SELECT 1", storage_connector=object(), primary_key=["a"])
    with pytest.raises(lakebox.ValidationError, match="unknown argument"):
        fs.create_external_feature_group("q", source=ext.source, primary_key=["a"], colour="red")


def test_the_planner_reads_a_pin_of_rows_without_a_snapshot() -> None:
    """The planner's contract for external groups: a ``Pin`` with rows and no snapshot is not
    empty, and DuckDB reads exactly those rows (no planner pass knows about sources)."""
    from lakebox.query import duck
    from lakebox.query.bind import bind
    from lakebox.query.build import QuerySpec, query_plan
    from lakebox.query.refs import GroupRef, Pin

    rows = orders(4)
    ref = GroupRef(id=1, name="orders", version=1, table_name="t", identifier="ns.t", schema=rows.schema,
                   primary_key=("order_id",), event_time="ts")
    pin = Pin(snapshot_id=None, exact=rows)
    assert not pin.empty and Pin(snapshot_id=None).empty
    plan = bind(query_plan(QuerySpec(ref=ref)), lambda r, when: pin)
    assert duck.execute(plan).to_pylist() == rows.sort_by([("order_id", "ascending"), ("ts", "ascending")]).to_pylist()
