"""Catalog search over a big catalog, and what statistics add to a 1M-row commit.

    python benchmarks/search.py [--groups 5000] [--features 20] [--queries 300] [--rows 1000000]

Search: a catalog of ``--groups`` feature groups with ``--features`` features each (100,000
features by default), with realistic names and descriptions built from a small vocabulary, and
tags on every tenth group. Creating 5,000 groups through the public
``fs.create_feature_group(..., features=[...])`` would also create 5,000 Iceberg tables, which
takes minutes and measures Iceberg, not the catalog. So the script times the public call on a
small sample (``--sample`` groups, reported per group), then builds the big catalog with
``lakebox.catalog.groups.GroupStore.create`` — the very catalog rows ``create_feature_group``
writes, in one transaction per group, firing the same triggers that keep the ``assets`` table
and its FTS5 index in step — without Iceberg tables. That time is the index build time; a raw
FTS5 table filled with the same documents in one transaction is its floor.

It then runs a few hundred queries (single words, prefixes, two words, plural forms) through the
public ``project.search`` and reports p50/p99 latency (target: p50 under 5 ms), next to the
floor: a raw SQLite FTS5 ``MATCH ... ORDER BY rank LIMIT n`` on the same index and connection
settings, in the same run, with the ratio. A middle line runs the same SQL that
``AssetStore.search`` runs (bm25 weights, snippet, join with ``assets``) without the Python
around it, to show where the time goes.

Statistics: the same ``make_table`` batch as ``benchmarks/ingest.py`` (1M rows x 12 columns)
committed to a group with ``statistics=True`` and to one with ``statistics=False``; the
difference is the statistics overhead, printed as a fraction of the commit time, next to
``compute_statistics`` on the table alone.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest import make_table  # benchmarks/ingest.py (run this file as a script)

import lakebox
from lakebox.catalog.assets import AssetStore, fts_query
from lakebox.catalog.groups import FeatureRow, GroupStore
from lakebox.feature_group import new_table_name
from lakebox.stats import compute_statistics

ENTITIES = (
    "player", "team", "game", "stadium", "ticket", "customer", "order", "session", "device", "sensor",
    "account", "merchant", "product", "store", "driver", "trip", "user", "page", "campaign", "league",
)  # fmt: skip
MEASURES = (
    "count", "sum", "avg", "max", "min", "ratio", "rate", "score", "amount", "duration", "attendance",
    "revenue", "price", "age", "rating", "distance", "latency", "balance", "spend", "visits", "goals",
    "clicks", "refunds", "churn", "temperature",
)  # fmt: skip
WINDOWS = ("1h", "6h", "1d", "7d", "30d", "90d")
TOPICS = (
    "Aggregates of {e} activity over rolling windows for the {m} model.",
    "Daily {e} snapshot: {m} and related signals, deduplicated by key.",
    "Features describing each {e}, refreshed hourly from the events stream.",
    "Historical {m} per {e}; backfilled from the warehouse, used for training and serving.",
    "{E} level {m} statistics joined with reference data about the {e2}.",
)
OWNERS = ("growth", "risk", "ml_platform", "analytics", "scouting")


def realistic_catalog(groups: int, features: int, seed: int = 3) -> list[dict[str, Any]]:
    """``groups`` group specs: a name, a description, ``features`` feature names with
    descriptions, and (every tenth group) tags."""
    rng = random.Random(seed)
    specs = []
    for g in range(groups):
        entity, measure = rng.choice(ENTITIES), rng.choice(MEASURES)
        name = f"{entity}_{measure}_{g}"
        description = rng.choice(TOPICS).format(e=entity, E=entity.capitalize(), m=measure, e2=rng.choice(ENTITIES))
        feature_names: dict[str, None] = {}
        while len(feature_names) < features:
            candidate = f"{rng.choice(('avg', 'sum', 'max', 'min', 'last', 'count'))}_{rng.choice(MEASURES)}_{rng.choice(WINDOWS)}"
            if candidate in feature_names:  # 900 combinations: wide groups get numbered variants
                candidate += f"_v{len(feature_names)}"
            feature_names.setdefault(candidate, None)
        rows = [FeatureRow("id", "bigint", f"{entity.capitalize()} identifier.")] + [
            FeatureRow(f, "double", f"{f.split('_')[0]} of {f.split('_')[1]} over {f.split('_')[2]} per {entity}.")
            for f in list(feature_names)[: features - 1]
        ]
        tags = {"owner": rng.choice(OWNERS), "tier": rng.randint(1, 3)} if g % 10 == 0 else {}
        specs.append({"name": name, "description": description, "features": rows, "tags": tags})
    return specs


def realistic_queries(count: int, group_names: list[str], seed: int = 11) -> list[tuple[str, str]]:
    """``count`` (category, text) queries: single words, prefixes, two words, plurals, feature
    names and names of existing groups."""
    rng = random.Random(seed)
    makers: list[tuple[str, Callable[[], str]]] = [
        ("word", lambda: rng.choice(MEASURES + ENTITIES)),
        ("prefix", lambda: (w := rng.choice(MEASURES + ENTITIES))[: max(3, len(w) // 2 + 1)]),
        ("two words", lambda: f"{rng.choice(ENTITIES)} {rng.choice(MEASURES)}"),
        ("plural", lambda: rng.choice(ENTITIES) + "s"),
        ("feature name", lambda: f"avg_{rng.choice(MEASURES)}_{rng.choice(WINDOWS)}"),
        ("group name", lambda: rng.choice(group_names)),
    ]
    return [(kind, make()) for kind, make in (makers[i % len(makers)] for i in range(count))]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def latencies(queries: list[str], fn: Callable[[str], Any], rounds: int = 3) -> list[float]:
    """Per-query seconds: the best of ``rounds`` runs of each query (after one warm-up pass)."""
    for q in queries:
        fn(q)
    return [min(timed(lambda q=q: fn(q)) for _ in range(rounds)) for q in queries]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


def bench_search(root: Path, args: argparse.Namespace) -> None:
    print(f"== search: {args.groups:,} groups x {args.features} features ==")
    project = lakebox.connect(root / "catalog")
    fs = project.get_feature_store()

    # the public path, on a sample: catalog rows + one Iceberg table per group
    sample = realistic_catalog(args.sample, args.features, seed=99)
    started = time.perf_counter()
    for spec in sample:
        fs.create_feature_group(
            "sample_" + spec["name"], 1, primary_key=["id"], description=spec["description"],
            features=[(f.name, f.type, f.description) for f in spec["features"]],
        )  # fmt: skip
    public = (time.perf_counter() - started) / len(sample)
    print(f"fs.create_feature_group(features=...), {len(sample)} groups: {public * 1000:7.1f} ms per group "
          f"(x {args.groups:,} groups = {public * args.groups:,.0f} s; mostly the Iceberg table)")  # fmt: skip

    # the big catalog, through the catalog's own writer (same rows, same triggers)
    specs = realistic_catalog(args.groups, args.features)
    groups, assets = GroupStore(project.catalog), AssetStore(project.catalog)
    settings = {"statistics": True, "expectations": [], "validation": "strict"}
    started = time.perf_counter()
    for spec in specs:
        row = groups.create(
            name=spec["name"], version=1, description=spec["description"], primary_key=["id"], event_time=None,
            online_enabled=False, table_name=new_table_name(spec["name"], 1), features=spec["features"],
            settings=settings,
        )  # fmt: skip
        if spec["tags"]:
            asset = assets.get("feature_group", row.id)
            for key, value in spec["tags"].items():
                assets.set_tag(asset.id, key, value)
    build = time.perf_counter() - started
    count = project.catalog.query("SELECT count(*) AS n FROM assets")[0]["n"]
    size = sum(p.stat().st_size for p in (root / "catalog").glob("catalog.db*")) / 1e6
    print(
        f"index build (GroupStore.create + triggers, one transaction per group): {build:7.2f} s "
        f"for {count:,} assets ({build / args.groups * 1000:.2f} ms per group); catalog {size:.0f} MB"
    )

    # how the build scales with features per group (each feature insert rewrites the group's keywords)
    scaling = []
    for width in (20, 200, 1000):
        spec = realistic_catalog(1, width, seed=width)[0]
        fresh = GroupStore(lakebox.connect(root / f"width_{width}").catalog)
        scaling.append((width, timed(lambda spec=spec, fresh=fresh: fresh.create(
            name=spec["name"], version=1, description=spec["description"], primary_key=["id"], event_time=None,
            online_enabled=False, table_name="t", features=spec["features"], settings=settings,
        ))))  # fmt: skip
        fresh.db.close()
    print("one group with N features: " + ", ".join(f"N={w}: {t * 1000:.1f} ms ({t / w * 1e6:.0f} us per feature)"
                                                     for w, t in scaling))  # fmt: skip

    # floor of the build: the same documents into a bare FTS5 table, one transaction
    docs = project.catalog.query("SELECT name, description, keywords FROM assets")
    raw = sqlite3.connect(root / "floor.db", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=NORMAL")
    raw.execute("CREATE VIRTUAL TABLE t USING fts5(name, description, keywords, tags, "
                "tokenize='porter unicode61', prefix='2 3 4')")  # fmt: skip
    started = time.perf_counter()
    raw.execute("BEGIN")
    raw.executemany("INSERT INTO t VALUES (?,?,?,'')", [(d["name"], d["description"], d["keywords"]) for d in docs])
    raw.execute("COMMIT")
    floor_build = time.perf_counter() - started
    raw.close()
    print(
        f"build floor (bare FTS5 table, the same {len(docs):,} documents in one transaction): {floor_build:7.2f} s"
        f"   ratio {build / floor_build:5.1f}x"
    )

    # queries
    queries = realistic_queries(args.queries, [spec["name"] for spec in specs])
    texts = [text for _, text in queries]
    hits = [len(project.search(t, limit=args.limit)) for t in texts]
    conn = sqlite3.connect(project.catalog.path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    matches = [fts_query(t) for t in texts]
    by_text = dict(zip(texts, matches, strict=True))

    def floor(text: str) -> None:
        conn.execute(
            "SELECT rowid FROM asset_search WHERE asset_search MATCH ? ORDER BY rank LIMIT ?",
            (by_text[text], args.limit),
        ).fetchall()

    def same_sql(text: str) -> None:
        conn.execute(
            "SELECT a.*, bm25(asset_search, 10.0, 2.0, 4.0, 3.0) AS rank,"
            " snippet(asset_search, -1, '[', ']', '…', 12) AS snip"
            " FROM asset_search JOIN assets AS a ON a.id = asset_search.rowid"
            " WHERE asset_search MATCH ? ORDER BY rank, a.kind, a.name, a.version LIMIT ?",
            (by_text[text], args.limit),
        ).fetchall()

    t_public = latencies(texts, lambda t: project.search(t, limit=args.limit))
    t_same = latencies(texts, same_sql)
    t_floor = latencies(texts, floor)
    print(f"{len(texts)} queries ({', '.join(sorted({k for k, _ in queries}))}), limit {args.limit}; "
          f"hits per query: median {statistics.median(hits):.0f}, {sum(h == 0 for h in hits)} with none")  # fmt: skip
    print(f"{'':38}{'p50':>10}  {'p99':>10}  {'max':>10}")
    for label, values in (
        ("project.search (public)", t_public),
        ("same SQL, raw sqlite3", t_same),
        ("floor: FTS5 MATCH ORDER BY rank", t_floor),
    ):
        print(f"  {label:36}{ms(percentile(values, 0.5))}  {ms(percentile(values, 0.99))}  {ms(max(values))}")
    p50 = percentile(t_public, 0.5)
    print(f"  ratio public/floor: p50 {p50 / percentile(t_floor, 0.5):5.1f}x, "
          f"p99 {percentile(t_public, 0.99) / percentile(t_floor, 0.99):5.1f}x   "
          f"target p50 < 5 ms: {'met' if p50 < 0.005 else 'NOT met'}")  # fmt: skip
    for kind in sorted({k for k, _ in queries}):
        chosen = [t for (k, _), t in zip(queries, t_public, strict=True) if k == kind]
        print(f"    {kind:14} p50 {ms(percentile(chosen, 0.5))}  p99 {ms(percentile(chosen, 0.99))}")
    conn.close()
    project.close()


def bench_statistics(root: Path, args: argparse.Namespace) -> None:
    print(f"\n== statistics on a {args.rows:,}-row commit ==")
    data = make_table(args.rows)
    print(f"table: {data.num_rows:,} rows x {data.num_columns} columns, {data.nbytes / 1e6:.0f} MB in memory")
    counter = iter(range(1_000_000))

    small = make_table(1000, start_id=args.rows, day=1, seed=8)

    def commit(with_statistics: bool) -> tuple[float, float]:
        """(seconds to commit the big table, then seconds to commit 1,000 more rows)."""
        with lakebox.connect(root / f"stats_{next(counter)}") as project:
            fs = project.get_feature_store()
            fg = fs.create_feature_group(
                "bench", 1, primary_key=["entity_id"], event_time="ts", statistics=with_statistics
            )
            return timed(lambda: fg.insert(data)), timed(lambda: fg.insert(small))

    compute = min(timed(lambda: compute_statistics(data)) for _ in range(args.repeats))
    off = [commit(False) for _ in range(args.repeats)]
    on = [commit(True) for _ in range(args.repeats)]
    t_off, t_on = min(t for t, _ in off), min(t for t, _ in on)
    s_off, s_on = min(t for _, t in off), min(t for _, t in on)
    print(f"fg.insert, statistics=False: {t_off:7.3f} s")
    print(
        f"fg.insert, statistics=True : {t_on:7.3f} s   overhead {t_on - t_off:6.3f} s = "
        f"{(t_on - t_off) / t_on:5.1%} of the commit ({(t_on - t_off) / t_off:5.1%} on top of it)"
    )
    print(f"compute_statistics(table) alone: {compute:7.3f} s = {compute / t_on:5.1%} of the commit with statistics "
          "(the commit also reads the committed snapshot back)")  # fmt: skip
    print(
        f"then 1,000 more rows into the same group: statistics=False {s_off:6.3f} s, statistics=True "
        f"{s_on:6.3f} s ({s_on / s_off:4.1f}x: the statistics cover the whole group as of the commit)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20, help="features per group, the key included")
    parser.add_argument("--sample", type=int, default=30, help="groups created through the public API")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-statistics", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_search(Path(tmp), args)
        if not args.skip_statistics:
            bench_statistics(Path(tmp), args)


if __name__ == "__main__":
    main()
