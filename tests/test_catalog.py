"""The catalog (issue 5): full-text search, tags, statistics, validation on insert, drift and
lineage, against real boxes in ``tmp_path``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakebox
from lakebox import expect
from lakebox.catalog.assets import SearchHit
from lakebox.errors import LakeboxError, NotFoundError, ValidationError
from lakebox.stats import compare, compute_statistics

T0 = datetime(2024, 1, 1, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


# -- helpers ---------------------------------------------------------------------------------
def names(hits: list[SearchHit]) -> list[tuple[str, str]]:
    return [(h.kind, h.name) for h in hits]


def declared(fs: Any, name: str, description: str = "", features: tuple[str, ...] = ("x",), **kwargs: Any) -> Any:
    """A group with an explicit schema (id bigint key plus double features): no insert needed."""
    return fs.create_feature_group(
        name, 1, primary_key=["id"], description=description,
        features=[("id", "bigint"), *[(f, "double") for f in features]], **kwargs,
    )  # fmt: skip


def assert_index_in_step(project: lakebox.Project) -> None:
    """Every asset has exactly its row in the FTS5 index, with the same text, and FTS5's own
    integrity check passes."""
    db = project.catalog
    assets = {
        r["id"]: (r["name"], r["description"], r["keywords"])
        for r in db.query("SELECT id, name, description, keywords FROM assets")
    }
    tags: dict[int, list[str]] = {}
    for r in db.query("SELECT asset_id, key, value FROM asset_tags ORDER BY asset_id, key"):
        tags.setdefault(r["asset_id"], []).extend([r["key"], r["value"]])
    index = {
        r["rowid"]: (r["name"], r["description"], r["keywords"], r["tags"])
        for r in db.query("SELECT rowid, name, description, keywords, tags FROM asset_search")
    }
    assert set(index) == set(assets)
    for asset_id, (name, description, keywords) in assets.items():
        assert index[asset_id][:3] == (name, description, keywords)
        assert sorted((index[asset_id][3] or "").split()) == sorted(" ".join(tags.get(asset_id, [])).split())
    with db.write() as conn:
        conn.execute("INSERT INTO asset_search (asset_search, rank) VALUES ('integrity-check', 1)")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lakebox.Project]:
    """A read-only box with a few assets of every kind the search tests need."""
    with lakebox.connect(tmp_path_factory.mktemp("catalog") / "box") as project:
        fs = project.get_feature_store()
        declared(fs, "attendance", "Numbers per stadium.", ("average_attendance",))
        declared(fs, "games", "Game results with the attendance of each match.", ("home_goals", "away_goals"))
        declared(fs, "teams", "Football teams.", ("budget",))
        declared(fs, "players", "Player ratings.", ("rating", "age"))
        declared(fs, "weather", "Rain and temperature per city.", ("rain_mm",))
        declared(fs, "tickets", "Ticket sales by channel.", ("sold",))
        yield project


# -- search: ranking, prefixes, stemming, filters ----------------------------------------------
def test_a_name_match_ranks_above_a_description_match(catalog: lakebox.Project) -> None:
    hits = catalog.search("attendance", kind="feature_group")
    assert names(hits) == [("feature_group", "attendance"), ("feature_group", "games")]
    assert hits[0].score > hits[1].score > 0
    assert hits[0].snippet == "[attendance]" and "[attendance]" in hits[1].snippet


def test_prefix_finds_longer_words(catalog: lakebox.Project) -> None:
    found = names(catalog.search("attend"))
    assert ("feature_group", "attendance") in found and ("feature", "average_attendance") in found
    assert ("feature_group", "games") in found  # through its description
    assert names(catalog.search("attend", kind="feature")) == [("feature", "average_attendance")]


def test_stemming_finds_other_forms_of_a_word(catalog: lakebox.Project) -> None:
    assert ("feature_group", "games") in names(catalog.search("game"))
    hits = catalog.search("matches")  # "match" in the description of games
    assert names(hits) == [("feature_group", "games")] and "[match]" in hits[0].snippet
    assert ("feature_group", "teams") in names(catalog.search("team"))


def test_several_words_match_all_then_any(catalog: lakebox.Project) -> None:
    assert names(catalog.search("rain city")) == [("feature_group", "weather")]  # both words
    either = names(catalog.search("rain tickets"))  # no asset has both: any of them
    assert ("feature_group", "weather") in either and ("feature_group", "tickets") in either


def test_hits_carry_kind_name_version_parent_score_and_snippet(catalog: lakebox.Project) -> None:
    hit = catalog.search("home_goals", kind="feature")[0]
    assert (hit.kind, hit.name, hit.version, hit.parent) == ("feature", "home_goals", 1, "games:1")
    assert hit.score > 0 and hit.snippet == "[home_goals]"
    assert hit.to_dict() == {
        "kind": "feature", "name": "home_goals", "version": 1, "parent": "games:1", "score": hit.score,
        "snippet": "[home_goals]", "description": "", "tags": {},
    }  # fmt: skip
    group = catalog.search("games", kind="feature_group")[0]
    assert (group.parent, group.description) == (None, "Game results with the attendance of each match.")


def test_filter_by_kind(catalog: lakebox.Project) -> None:
    for kind in ("feature_group", "feature"):
        assert {h.kind for h in catalog.search("a", kind=kind, limit=100)} == {kind}
    both = catalog.search("attendance", kind=["feature", "feature_group"])
    assert {h.kind for h in both} == {"feature", "feature_group"}
    assert catalog.search("attendance", kind="model") == []
    with pytest.raises(ValidationError, match="Unknown asset kind"):
        catalog.search("attendance", kind="table")


def test_limit(catalog: lakebox.Project) -> None:
    assert len(catalog.search("a", limit=2)) == 2
    for bad in (0, 1001, -1, 2.5, True, "3"):
        with pytest.raises(ValidationError, match="limit"):
            catalog.search("a", limit=bad)


def test_filter_by_tags_with_json_values(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    players = declared(fs, "players", "Player ratings.")
    teams = declared(fs, "teams", "Football teams.")
    declared(fs, "games", "Game results.")
    players.add_tag("owner", "scouting")
    players.add_tag("config", {"window": [7, 30], "on": True})
    teams.add_tag("owner", "finance")
    teams.add_tag("tier", 1)

    assert names(project.search("", tags={"owner": "scouting"})) == [("feature_group", "players")]
    assert names(project.search("", tags={"tier": 1})) == [("feature_group", "teams")]
    assert project.search("", tags={"tier": "1"}) == []  # the JSON value must match: 1 is not "1"
    assert names(project.search("", tags={"config": {"on": True, "window": [7, 30]}})) == [("feature_group", "players")]
    assert names(project.search("", tags=["owner"])) == [("feature_group", "players"), ("feature_group", "teams")]
    assert names(project.search("team", tags={"owner": "finance"})) == [("feature_group", "teams")]
    assert project.search("team", tags={"owner": "scouting"}) == []
    assert names(project.search("", tags={"owner": "finance", "tier": 1})) == [("feature_group", "teams")]
    assert project.search("", tags={"owner": "finance", "tier": 2}) == []
    assert names(project.search("scouting")) == [("feature_group", "players")]  # tag values are searchable text
    hit = project.search("scouting")[0]
    assert hit.tags == {"config": {"on": True, "window": [7, 30]}, "owner": "scouting"}


def test_a_single_tag_key_as_a_string(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    declared(fs, "players").add_tag("owner", "scouting")
    assert names(project.search("players", tags="owner")) == [("feature_group", "players")]


@pytest.mark.parametrize("kwargs", [{"kind": 5}, {"tags": 5}])
def test_filters_of_the_wrong_type_are_validation_errors(catalog: lakebox.Project, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        catalog.search("attendance", **kwargs)


# -- search: user text is never FTS5 syntax --------------------------------------------------
NASTY = [
    '"', '""', "'", "attend'", '"attend', "NEAR(", "NEAR(attendance games)", "NEAR(a b, 2)", "*", "attend*",
    "**", "OR", "AND", "NOT", "attendance OR games", "attendance NOT games", "-", "-attendance", "^",
    "^attendance", "+", "name:attendance", "{name}: attendance", "(", ")", "((attendance", "attendance)",
    "[", "a:b:c", ":", "%", "_", "__", "\\", "\x00", "attend\x00ance", "😀", "é", "x" * 5000,
    "attendance " * 600, "a " * 2500, "", " ", "   \t\n", "\u200b", "\u0301",
]  # fmt: skip


@pytest.mark.parametrize("text", NASTY, ids=[repr(t[:20]) for t in NASTY])
def test_user_text_is_never_query_syntax(catalog: lakebox.Project, text: str) -> None:
    try:
        hits = catalog.search(text)
    except ValidationError as err:
        assert "word" in str(err)  # says what to do
        assert not text.strip() or not any(c.isalnum() for c in text)
        return
    assert isinstance(hits, list) and all(isinstance(h, SearchHit) for h in hits)


def test_special_characters_are_just_separators(catalog: lakebox.Project) -> None:
    plain = names(catalog.search("attendance"))
    for text in ('"attendance"', "attendance*", "NEAR(attendance)", "-attendance", "^attendance", "(attendance)",
                 "name:attendance"):  # fmt: skip
        found = names(catalog.search(text))
        assert set(plain) <= set(found) or found == plain, text
    assert names(catalog.search("attendance OR zebra")) == names(catalog.search("attendance zebra"))


def test_empty_text_without_tags_is_a_clear_error(catalog: lakebox.Project) -> None:
    for text in ("", "   ", "!!!", "*", "-"):
        with pytest.raises(ValidationError, match="at least one word"):
            catalog.search(text)
    with pytest.raises(ValidationError, match="string"):
        catalog.search(None)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
def test_arbitrary_text_gives_hits_or_a_validation_error(catalog: lakebox.Project, text: str) -> None:
    try:
        hits = catalog.search(text)
    except ValidationError:
        return
    assert all(isinstance(h, SearchHit) for h in hits)


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(max_size=40),
    tags=st.dictionaries(st.text(max_size=12), st.text(max_size=12) | st.integers() | st.none(), max_size=3),
    kind=st.sampled_from([None, "feature", "feature_group", ["feature", "feature_view"]]),
)
def test_arbitrary_text_tags_and_kinds_never_raise_anything_else(
    catalog: lakebox.Project, text: str, tags: dict[str, Any], kind: Any
) -> None:
    try:
        catalog.search(text, kind=kind, tags=tags)
    except LakeboxError:
        pass


# -- search: the index stays in step with the catalog ----------------------------------------
def test_the_index_follows_every_change(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    games = declared(fs, "games", "Results of every fixture.", ("home_goals", "attendance"))
    teams = declared(fs, "teams", "Clubs.", ("budget",))
    assert_index_in_step(project)

    games.update_description("Kick-off results with crowd figures.")
    assert names(project.search("crowd")) == [("feature_group", "games")]
    assert project.search("fixture") == []

    games.update_feature_description("home_goals", "Goals of the quokka side.")
    hit = project.search("quokka")[0]
    assert (hit.kind, hit.name, hit.parent) == ("feature", "home_goals", "games:1")

    teams.add_tag("sponsor", "platypus airlines")
    assert names(project.search("platypus")) == [("feature_group", "teams")]
    teams.add_tag("sponsor", "wombat bank")  # replaces the value
    assert project.search("platypus") == [] and names(project.search("wombat")) == [("feature_group", "teams")]
    teams.delete_tag("sponsor")
    assert project.search("wombat") == []
    assert_index_in_step(project)

    view = fs.create_feature_view(
        "crowds", query=games.select(["id", "attendance"]).join(teams.select(["budget"]), on=["id"]),
        labels=["attendance"], description="Predict the gate.",
    )  # fmt: skip
    assert names(project.search("crowds", kind="feature_view")) == [("feature_view", "crowds")]
    assert ("feature_view", "crowds") in names(project.search("gate"))
    assert ("feature_view", "crowds") in names(project.search("budget"))  # its feature names are keywords
    games.insert(pa.table({"id": [1, 2], "home_goals": [1.0, 2.0], "attendance": [100.0, 200.0]}))
    teams.insert(pa.table({"id": [1, 2], "budget": [5.0, 6.0]}))
    version = view.create_training_dataset(description="first season snapshot")
    assert names(project.search("season", kind="training_dataset")) == [("training_dataset", "crowds")]
    td = project.search("season")[0]
    assert (td.version, td.parent) == (version, "crowds:1")
    assert_index_in_step(project)

    view.delete_training_dataset(version)
    assert project.search("season") == []
    view.delete()
    assert project.search("crowds", kind="feature_view") == [] and project.search("gate") == []
    assert_index_in_step(project)

    games.delete()
    assert project.search("games") == [] and project.search("quokka") == [] and project.search("crowd") == []
    assert {kind for kind, name in names(project.search("budget"))} == {"feature", "feature_group"}
    assert {name for kind, name in names(project.search("budget"))} == {"budget", "teams"}
    assert_index_in_step(project)


def test_the_index_survives_reopening_the_box(box_path: Path) -> None:
    with lakebox.connect(box_path) as project:
        fs = project.get_feature_store()
        declared(fs, "attendance", "Numbers per stadium.", ("average_attendance",)).add_tag("owner", "ops")
        before = [h.to_dict() for h in project.search("attend")]
    with lakebox.connect(box_path) as project:
        assert [h.to_dict() for h in project.search("attend")] == before
        assert names(project.search("", tags={"owner": "ops"})) == [("feature_group", "attendance")]
        declared(project.get_feature_store(), "stadiums", "Where attendance is counted.")
        assert ("feature_group", "stadiums") in names(project.search("attend"))
        assert_index_in_step(project)


# -- tags ------------------------------------------------------------------------------------
JSON_VALUES: list[Any] = ["text", 42, 2.5, True, None, [1, "a", None], {"a": {"b": [1, 2]}, "c": "d"}, ""]


def _view_and_dataset(fs: Any) -> tuple[Any, Any, int]:
    group = declared(fs, "players", "Player ratings.", ("rating",))
    group.insert(pa.table({"id": [1, 2, 3, 4], "rating": [60.0, 70.0, 80.0, 90.0]}))
    view = fs.create_feature_view("ratings", query=group.select_all(), labels=["rating"])
    return group, view, view.create_training_dataset()


def test_tags_with_json_values_on_groups_views_and_training_datasets(project: lakebox.Project) -> None:
    group, view, version = _view_and_dataset(project.get_feature_store())
    for asset in (group, view):
        for i, value in enumerate(JSON_VALUES):
            asset.add_tag(f"k{i}", value)
        assert asset.get_tags() == {f"k{i}": v for i, v in enumerate(JSON_VALUES)}
        assert asset.get_tag("k6") == {"a": {"b": [1, 2]}, "c": "d"}
        asset.add_tag("k0", "replaced")
        assert asset.get_tag("k0") == "replaced"
        asset.delete_tag("k0")
        assert "k0" not in asset.get_tags()
        with pytest.raises(NotFoundError):
            asset.delete_tag("k0")
        with pytest.raises(NotFoundError, match="k0"):
            asset.get_tag("k0")
    for i, value in enumerate(JSON_VALUES):
        view.add_training_dataset_tag(version, f"k{i}", value)
    assert view.get_training_dataset_tags(version) == {f"k{i}": v for i, v in enumerate(JSON_VALUES)}
    assert group.get_tags() != {} and view.get_tags() != {}  # each asset has its own tags
    hits = project.search("", tags={"k6": {"c": "d", "a": {"b": [1, 2]}}})  # key order does not matter
    assert sorted(names(hits)) == [("feature_group", "players"), ("feature_view", "ratings"),
                                   ("training_dataset", "ratings")]  # fmt: skip
    with pytest.raises(NotFoundError):
        view.add_training_dataset_tag(99, "k", 1)
    assert_index_in_step(project)


@pytest.mark.parametrize("key", ["", " ", "a b", "a/b", "x" * 101, 5, None, "é"])
def test_bad_tag_keys(project: lakebox.Project, key: Any) -> None:
    group = declared(project.get_feature_store(), "players")
    with pytest.raises(ValidationError, match="Tag key"):
        group.add_tag(key, 1)
    assert group.get_tags() == {}


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_tag_values_must_be_json(project: lakebox.Project, value: Any) -> None:
    group = declared(project.get_feature_store(), "players")
    try:
        group.add_tag("k", value)
    except ValidationError as err:
        assert "JSON" in str(err)
        assert group.get_tags() == {}
    else:  # NaN: Python's json writes it; it must at least read back
        assert math.isnan(group.get_tag("k"))


# -- statistics ------------------------------------------------------------------------------
def _batch(ids: range, rng: np.random.Generator, shift: float = 0.0) -> pa.Table:
    n = len(ids)
    x = rng.normal(10.0 + shift, 3.0, n)
    x[rng.random(n) < 0.1] = np.nan  # nulls below
    return pa.table(
        {
            "id": pa.array(list(ids), pa.int64()),
            "ts": pa.array([T0 + timedelta(hours=i % 5) for i in ids], TS),
            "x": pa.array(x, pa.float64(), from_pandas=True),
            "n": pa.array(rng.integers(-50, 50, n), pa.int64()),
            "s": pa.array([f"s{v}" for v in rng.integers(0, 30, n)], pa.string()),
        }
    )


def _assert_like_pandas(stats: dict[str, Any], frame: pd.DataFrame, sketched: bool = False) -> None:
    """``sketched``: the statistics come from a running summary, whose quantiles are the KLL
    sketch's (rank error ~1.33%) once a feature has more than 200 values."""
    assert stats["$row_count"] == len(frame)
    for name in ("x", "n"):
        col, got = frame[name], stats[name]
        values = col.dropna()
        assert got["count"] == col.notna().sum() and got["null_count"] == col.isna().sum()
        assert got["min"] == pytest.approx(values.min()) and got["max"] == pytest.approx(values.max())
        assert got["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert got["stddev"] == pytest.approx(values.std(ddof=1), rel=1e-9)
        for q, value in got["quantiles"].items():
            if sketched:
                assert abs((values <= value).mean() - float(q)) <= 0.02 + 1 / len(values), q
            else:
                assert value == pytest.approx(values.quantile(float(q), interpolation="linear"), rel=1e-12), q
        assert abs(got["distinct"] - values.nunique()) <= max(2, 0.15 * values.nunique())  # HyperLogLog
        assert sum(got["histogram"]["counts"]) == len(values)
    s, got = frame["s"], stats["s"]
    assert (got["count"], got["null_count"], got["distinct"]) == (s.notna().sum(), s.isna().sum(), s.nunique())
    assert (got["min"], got["max"]) == (s.min(), s.max())
    counts = s.value_counts()
    assert got["top"][0][1] == counts.max() and got["top"][0][0] == min(counts[counts == counts.max()].index)
    assert stats["ts"]["min"] == frame["ts"].min().isoformat()


def test_statistics_equal_pandas_after_two_commits(project: lakebox.Project) -> None:
    rng = np.random.default_rng(5)
    fg = project.get_feature_store().create_feature_group("readings", 1, primary_key=["id"], event_time="ts")
    fg.insert(_batch(range(0, 300), rng))
    fg.insert(_batch(range(200, 450), rng))  # 100 rows replaced, 150 new
    now = fg.read()
    assert len(now) == 450
    latest = fg.get_statistics()
    # commit 2 replaced 100 rows: counts, moments and correlations are still exact; min, max and
    # the sketches cannot forget the replaced values, and say so
    assert not latest.exact and "max" in latest.approximate["x"]
    for name in ("x", "n"):
        values, got = now[name].dropna(), latest.to_dict()[name]
        assert (got["count"], got["null_count"]) == (now[name].notna().sum(), now[name].isna().sum())
        assert got["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert got["stddev"] == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert latest.correlations["x"]["n"] == pytest.approx(now[["x", "n"]].corr().loc["x", "n"], abs=1e-9)
    assert set(latest.features) == {"id", "ts", "x", "n", "s"}
    assert fg.get_statistics(commit_id=2).to_dict() == latest.to_dict()

    first = fg.get_statistics(commit_id=1)
    at_one = fg.read(wallclock_time=1)
    assert len(at_one) == 300
    assert first.exact  # insert-only: exact (quantiles within the sketch's error)
    _assert_like_pandas(first.to_dict(), at_one, sketched=True)

    exact = fg.compute_statistics()  # reads the group: everything exact again
    assert exact.exact
    _assert_like_pandas(exact.to_dict(), now)
    assert fg.get_statistics().to_dict() == exact.to_dict()
    with pytest.raises(NotFoundError, match="no commit 3"):
        fg.get_statistics(commit_id=3)


def test_correlation_diagonal_is_exactly_one() -> None:
    rng = np.random.default_rng(0)
    stats = compute_statistics(pa.table({"a": np.round(rng.normal(70, 8, 1000), 1), "b": rng.normal(0, 1, 1000)}))
    assert [stats.correlations[f][f] for f in ("a", "b")] == [1.0, 1.0]  # as documented, and as pandas gives


def test_statistics_are_stored_per_commit_unless_turned_off(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    rng = np.random.default_rng(1)
    on = fs.create_feature_group("stats_on", 1, primary_key=["id"], event_time="ts")
    off = fs.create_feature_group("stats_off", 1, primary_key=["id"], event_time="ts", statistics=False)
    with pytest.raises(NotFoundError, match="no commits"):
        off.get_statistics()
    batch = _batch(range(100), rng)
    on.insert(batch)
    off.insert(batch)
    assert project.engines.groups.statistics(on.id, 1) is not None
    assert project.engines.groups.statistics(off.id, 1) is None  # nothing computed at commit time
    on_demand = off.get_statistics()  # computed exactly from the rows
    _assert_like_pandas(on_demand.to_dict(), off.read())
    _assert_like_pandas(on.get_statistics().to_dict(), on.read(), sketched=True)  # the running summary
    assert project.engines.groups.statistics(off.id, 1) == on_demand.to_dict()  # kept once computed


# -- validation through insert: every expectation, strict and warn -----------------------------
def _rows(n: int = 4, **columns: list[Any]) -> pa.Table:
    data = {
        "id": pa.array(range(1, n + 1), pa.int64()),
        "age": pa.array([20 + i for i in range(n)], pa.int64()),
        "name": pa.array([f"p{i}" for i in range(n)], pa.string()),
        "score": pa.array([1.0 + i for i in range(n)], pa.float64()),
    }
    for key, values in columns.items():
        data[key] = pa.array(values, data[key].type)
    return pa.table(data)


EXPECTATIONS = {
    "not_null": (expect.not_null("name"), {"name": ["p0", None, "p2", "p3"]}),
    "unique": (expect.unique(["name"]), {"name": ["p0", "p1", "p1", "p3"]}),
    "between": (expect.between("age", 18, 99), {"age": [20, 5, 22, 120]}),
    "in_set": (expect.in_set("name", ["p0", "p1", "p2", "p3"]), {"name": ["p0", "zed", "p2", "p3"]}),
    "matches": (expect.matches("name", r"p\d+"), {"name": ["p0", "x!", "p2", "p3"]}),
    "max_null_fraction": (expect.max_null_fraction("score", 0.25), {"score": [1.0, None, None, 4.0]}),
    "mean_between": (expect.mean_between("score", 0, 10), {"score": [100.0, 200.0, 3.0, 4.0]}),
    "row_count_between": (expect.row_count_between(1, 3), {}),
    "predicate": (expect.predicate("age >= 18 AND score < 100"), {"score": [1.0, 150.0, 3.0, 4.0]}),
}
assert set(EXPECTATIONS) == set(expect.RULES)


def _good(rule: str) -> pa.Table:
    return _rows(3) if rule == "row_count_between" else _rows()


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("rule", sorted(EXPECTATIONS))
def test_strict_validation_refuses_a_failing_batch_and_writes_nothing(project: lakebox.Project, rule: str) -> None:
    expectation, bad = EXPECTATIONS[rule]
    fg = project.get_feature_store().create_feature_group(
        "checked", 1, primary_key=["id"], expectations=[expectation], statistics=False
    )
    assert fg.validation == "strict" and fg.expectations == [expectation]
    commit = fg.insert(_good(rule))
    before = (fg.commit_details(), fg.read())
    with pytest.raises(ValidationError) as caught:
        fg.insert(_rows(**bad) if bad else _rows(4))
    report = caught.value.report
    assert isinstance(caught.value, lakebox.ValidationError) and report is not None
    assert not report.success and [r.rule for r in report.failures] == [rule]
    assert "nothing was written" in str(caught.value)
    after = (fg.commit_details(), fg.read())
    assert after[0] == before[0] and len(after[0]) == 1
    pd.testing.assert_frame_equal(after[1], before[1])
    reports = fg.get_validation_reports()
    assert [(r["commit_id"], r["success"], r["mode"]) for r in reports] == [
        (commit.commit_id, True, "strict"), (None, False, "strict"),
    ]  # fmt: skip
    assert reports[-1]["report"] == report.to_dict()
    if not expectation.aggregate:
        failed = report.failures[0]
        assert failed.failed_rows and failed.sample  # which rows, and a sample of them


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("rule", sorted(EXPECTATIONS))
def test_warn_validation_writes_and_keeps_the_report(project: lakebox.Project, rule: str) -> None:
    expectation, bad = EXPECTATIONS[rule]
    fg = project.get_feature_store().create_feature_group("checked", 1, primary_key=["id"], statistics=False)
    fg.set_expectations([expectation], validation="warn")
    assert fg.validation == "warn"
    first = fg.insert(_good(rule))
    second = fg.insert(_rows(**bad) if bad else _rows(4))
    assert second.commit_id == first.commit_id + 1
    assert len(fg.read()) == 4
    reports = fg.get_validation_reports()
    assert [(r["commit_id"], r["success"], r["mode"]) for r in reports] == [
        (first.commit_id, True, "warn"), (second.commit_id, False, "warn"),
    ]  # fmt: skip
    assert [r["rule"] for r in reports[1]["report"]["results"] if not r["success"]] == [rule]


def test_validate_checks_without_writing_and_bad_modes_are_refused(project: lakebox.Project) -> None:
    fs = project.get_feature_store()
    fg = fs.create_feature_group("checked", 1, primary_key=["id"], expectations=[expect.between("age", 18, 99)])
    report = fg.validate(_rows(age=[1, 2, 30, 40]))
    assert not report.success and report.failures[0].failed_rows == 2
    assert fg.commit_details() == {} and fg.get_validation_reports() == []
    with pytest.raises(ValidationError, match="strict"):
        fg.set_expectations([], validation="loud")
    with pytest.raises(ValidationError, match="strict"):
        fs.create_feature_group("other", 1, primary_key=["id"], validation="maybe")
    with pytest.raises(ValidationError, match="expect"):
        fs.create_feature_group("other", 1, primary_key=["id"], expectations=["age > 1"])
    fg.set_expectations([])
    fg.insert(_rows(age=[1, 2, 30, 40]))  # no rules, no report
    assert fg.get_validation_reports() == []


# -- drift: a training dataset vs a later commit ---------------------------------------------
def test_compare_training_dataset_statistics_with_a_later_commit(project: lakebox.Project) -> None:
    rng = np.random.default_rng(11)
    fs = project.get_feature_store()
    fg = fs.create_feature_group("sensor", 1, primary_key=["id"])
    n = 2000
    ids = pa.array(range(n), pa.int64())
    fg.insert(pa.table({"id": ids, "value": rng.normal(0.0, 1.0, n), "label": rng.integers(0, 2, n)}))
    view = fs.create_feature_view("sensing", query=fg.select_all(), labels=["label"])
    version = view.create_training_dataset(test_size=0.2, seed=1)
    train = view.get_training_dataset_statistics(version)
    assert train.row_count == 1600 and view.get_training_dataset_statistics(version, "test").row_count == 400

    stable = compare(train, fg.get_statistics())
    assert stable["value"]["psi"] < 0.1 and stable["value"]["ks"] < 0.1
    fg.insert(pa.table({"id": ids, "value": rng.normal(2.0, 1.0, n), "label": rng.integers(0, 2, n)}))
    drift = compare(train, fg.get_statistics())
    assert drift["value"]["psi"] > 0.25 and drift["value"]["ks"] > 0.5
    assert drift["value"]["mean_b"] == pytest.approx(2.0, abs=0.1)
    assert compare(train, fg.get_statistics(commit_id=1))["value"]["psi"] < 0.1  # the old commit is unchanged
