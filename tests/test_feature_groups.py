"""Feature groups: create, get, versions, get_or_create, delete, schema, names (DESIGN §3-4)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from helpers import TS, day, players, read_rows, table_files

import lakebox
from lakebox import Feature


def test_create_and_get(fs: Any) -> None:
    fg = fs.create_feature_group(
        "players", version=1, primary_key=["pid"], event_time="ts", description="Players of the league"
    )
    assert (fg.name, fg.version, fg.primary_key, fg.event_time) == ("players", 1, ["pid"], "ts")
    assert fg.table_name == "players_1"
    assert fg.features == [], "no schema until the first insert"
    got = fs.get_feature_group("players", 1)
    assert (got.id, got.description) == (fg.id, "Players of the league")


def test_version_none_takes_the_next_free_version(fs: Any) -> None:
    v1 = fs.create_feature_group("players", primary_key=["pid"])
    v2 = fs.create_feature_group("players", primary_key=["pid"])
    v5 = fs.create_feature_group("players", version=5, primary_key=["pid"])
    v6 = fs.create_feature_group("players", primary_key=["pid"])
    assert [v1.version, v2.version, v5.version, v6.version] == [1, 2, 5, 6]


def test_get_without_version_is_the_latest(fs: Any) -> None:
    fs.create_feature_group("players", version=1, primary_key=["pid"])
    fs.create_feature_group("players", version=3, primary_key=["pid"])
    fs.create_feature_group("teams", version=7, primary_key=["team_id"])
    assert fs.get_feature_group("players").version == 3
    assert fs.get_feature_group("teams").version == 7


def test_get_feature_groups(fs: Any) -> None:
    fs.create_feature_group("players", version=2, primary_key=["pid"])
    fs.create_feature_group("players", version=1, primary_key=["pid"])
    fs.create_feature_group("teams", version=1, primary_key=["team_id"])
    assert [(g.name, g.version) for g in fs.get_feature_groups("players")] == [("players", 1), ("players", 2)]
    assert [(g.name, g.version) for g in fs.get_feature_groups()] == [
        ("players", 1),
        ("players", 2),
        ("teams", 1),
    ]
    assert fs.get_feature_groups("nobody") == []


def test_versions_are_independent_tables(fs: Any) -> None:
    v1 = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    v2 = fs.create_feature_group("players", version=2, primary_key=["pid"], event_time="ts")
    v1.insert(players([1, 2]))
    v2.insert(players([3]))
    assert [r[0] for r in read_rows(v1)] == [1, 2]
    assert [r[0] for r in read_rows(v2)] == [3]


def test_create_existing_raises_already_exists(fs: Any) -> None:
    fs.create_feature_group("players", version=1, primary_key=["pid"])
    with pytest.raises(lakebox.AlreadyExistsError, match="players v1 already exists"):
        fs.create_feature_group("players", version=1, primary_key=["pid"])


def test_get_or_create_returns_the_same_group(fs: Any) -> None:
    created = fs.get_or_create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    created.insert(players([1]))
    again = fs.get_or_create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    assert again.id == created.id
    assert [r[0] for r in read_rows(again)] == [1]
    assert len(fs.get_feature_groups("players")) == 1


def test_get_or_create_with_mismatched_keys_raises(fs: Any) -> None:
    fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    with pytest.raises(lakebox.ValidationError, match="primary key"):
        fs.get_or_create_feature_group("players", version=1, primary_key=["team_id"], event_time="ts")
    with pytest.raises(lakebox.ValidationError, match="event time"):
        fs.get_or_create_feature_group("players", version=1, primary_key=["pid"], event_time="updated_at")


def test_unknown_group_suggests_close_names(fs: Any) -> None:
    fs.create_feature_group("players", primary_key=["pid"])
    with pytest.raises(lakebox.NotFoundError, match=r"did you mean 'players'\?") as info:
        fs.get_feature_group("player")
    assert info.value.http_status == 404
    with pytest.raises(lakebox.NotFoundError, match="no version 4"):
        fs.get_feature_group("players", 4)
    with pytest.raises(lakebox.NotFoundError):
        fs.get_feature_group("zzz")


def test_delete_removes_files_and_frees_the_name(fs: Any, project: lakebox.Project) -> None:
    fg = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    fg.insert(players([1, 2]))
    fg.insert(players([3]))
    assert table_files(project.path), "the insert wrote files"
    fg.delete()
    assert table_files(project.path) == set(), "every data and metadata file is gone"
    with pytest.raises(lakebox.NotFoundError):
        fs.get_feature_group("players", 1)
    with pytest.raises(lakebox.NotFoundError):
        fg.read()
    again = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    assert again.features == []
    assert read_rows(again) == []
    assert again.commit_details() == {}
    commit = again.insert(players([9]))
    assert commit.commit_id == 1, "a re-created group starts a fresh history"
    assert [r[0] for r in read_rows(again)] == [9]


def test_explicit_schema_with_descriptions(fs: Any) -> None:
    fg = fs.create_feature_group(
        "players",
        version=1,
        primary_key=["pid"],
        event_time="ts",
        description="league players",
        features=[
            Feature("pid", "bigint", "player id"),
            {"name": "ts", "type": "timestamp", "description": "when observed"},
            ("age", "double"),
            Feature("name", "string"),
        ],
    )
    assert [(f.name, f.type, f.description, f.primary, f.event_time) for f in fg.features] == [
        ("pid", "bigint", "player id", True, False),
        ("ts", "timestamp", "when observed", False, True),
        ("age", "double", "", False, False),
        ("name", "string", "", False, False),
    ]
    empty = fg.read(dataframe_type="arrow")
    assert empty.num_rows == 0
    assert empty.schema == pa.schema(
        [("pid", pa.int64()), ("ts", TS), ("age", pa.float64()), ("name", pa.string())]
    )
    # an int32 key column widens into the declared bigint
    batch = players([1, 2]).set_column(0, "pid", pa.array([1, 2], pa.int32()))
    fg.insert(batch)
    assert fg.read(dataframe_type="arrow").schema.field("pid").type == pa.int64()
    fg.update_feature_description("age", "years since birth")
    fg.update_description("all players")
    reloaded = fs.get_feature_group("players", 1)
    assert reloaded.description == "all players"
    assert reloaded.get_feature("age").description == "years since birth"
    assert reloaded.get_feature("pid").description == "player id", "the first insert keeps declared descriptions"


def test_schema_inferred_from_the_first_insert(players_fg: Any) -> None:
    players_fg.insert(players([1]))
    assert [(f.name, f.type) for f in players_fg.features] == [
        ("pid", "bigint"),
        ("ts", "timestamp"),
        ("age", "double"),
        ("name", "string"),
    ]


def test_unknown_feature_suggests(players_fg: Any) -> None:
    players_fg.insert(players([1]))
    with pytest.raises(lakebox.NotFoundError, match="did you mean"):
        players_fg.get_feature("agee")


@pytest.mark.parametrize(
    "name",
    ["my players", "players; drop table x", "select", "join", "1players", "", "a-b", "x" * 64],
)
def test_invalid_group_names(fs: Any, name: str) -> None:
    with pytest.raises(lakebox.InvalidNameError):
        fs.create_feature_group(name, primary_key=["pid"])
    assert fs.get_feature_groups() == []


def test_mixed_case_names_are_lower_cased_with_a_warning(fs: Any) -> None:
    # hsfs lower-cases group and feature names itself and warns (issue 18); lakebox follows it
    from lakebox.names import NameLoweredWarning

    with pytest.warns(NameLoweredWarning):
        fg = fs.create_feature_group("Players", version=1, primary_key=["Pid"], event_time="TS")
    assert (fg.name, fg.primary_key, fg.event_time) == ("players", ["pid"], "ts")
    with pytest.warns(NameLoweredWarning):
        fg.insert(players([1]).rename_columns(["Pid", "TS", "Age", "team_id"]))
    assert [f.name for f in fg.features] == ["pid", "ts", "age", "team_id"]
    with pytest.warns(NameLoweredWarning):
        assert fs.get_feature_group("PLAYERS", 1).name == "players"
    with pytest.raises(lakebox.SchemaMismatchError, match="collide"), pytest.warns(NameLoweredWarning):
        fg.insert(players([2]).append_column("AGE", pa.array([1])))


@pytest.mark.parametrize("column", ["player id", "from", "9lives"])
def test_invalid_key_and_feature_names(fs: Any, column: str) -> None:
    with pytest.raises(lakebox.InvalidNameError):
        fs.create_feature_group("players", primary_key=[column])
    with pytest.raises(lakebox.InvalidNameError):
        fs.create_feature_group("players", primary_key=["pid"], event_time=column)
    with pytest.raises(lakebox.InvalidNameError):
        Feature(column, "bigint")
    assert fs.get_feature_groups() == []


def test_invalid_column_name_in_first_insert(players_fg: Any, project: lakebox.Project) -> None:
    batch = players([1]).append_column("Bad Column", pa.array([1]))
    with pytest.raises(lakebox.InvalidNameError, match="Bad Column"):
        players_fg.insert(batch)
    assert players_fg.features == []
    assert table_files(project.path) == set()


def test_group_definition_errors(fs: Any) -> None:
    with pytest.raises(lakebox.ValidationError, match="primary key"):
        fs.create_feature_group("players")
    with pytest.raises(lakebox.ValidationError):
        fs.create_feature_group("players", primary_key=["pid", "pid"])
    with pytest.raises(lakebox.ValidationError):
        fs.create_feature_group("players", primary_key=["pid"], event_time="pid")
    with pytest.raises(lakebox.ValidationError):
        fs.create_feature_group("players", version=0, primary_key=["pid"])
    with pytest.raises(lakebox.ValidationError, match="lack the key"):
        fs.create_feature_group("players", primary_key=["pid"], features=[Feature("age", "double")])
    with pytest.raises(lakebox.ValidationError, match="timestamp"):
        fs.create_feature_group(
            "players", primary_key=["pid"], event_time="ts", features=[Feature("pid", "bigint"), Feature("ts", "date")]
        )
    with pytest.raises(lakebox.SchemaMismatchError, match="Unknown feature type"):
        Feature("age", "float128")
    assert fs.get_feature_groups() == []


def test_declared_float_primary_key_is_refused_at_creation(fs: Any) -> None:
    with pytest.raises(lakebox.ValidationError, match="pid"):
        fs.create_feature_group("players", primary_key=["pid"], features=[Feature("pid", "double")])
    assert fs.get_feature_groups() == []


def test_string_and_composite_primary_keys(fs: Any) -> None:
    fg = fs.create_feature_group("matches", primary_key=["home", "away"], event_time="ts")
    batch = pa.table(
        {
            "home": ["a", "a", "b"],
            "away": ["b", "c", "a"],
            "ts": pa.array([day(1)] * 3, TS),
            "goals": [1, 2, 3],
        }
    )
    fg.insert(batch)
    commit = fg.insert(pa.table({"home": ["a"], "away": ["c"], "ts": pa.array([day(1)], TS), "goals": [9]}))
    assert (commit.rows_inserted, commit.rows_updated) == (0, 1)
    assert read_rows(fg) == [("a", "b", day(1), 1), ("a", "c", day(1), 9), ("b", "a", day(1), 3)]


def test_group_object_from_before_first_insert_sees_the_schema(fs: Any) -> None:
    early = fs.create_feature_group("players", primary_key=["pid"], event_time="ts")
    other = fs.get_feature_group("players")
    other.insert(players([1]))
    assert [f.name for f in early.features] in ([], ["pid", "ts", "age", "name"])
    assert [r[0] for r in read_rows(early)] == [1]
    early.insert(players([2]))
    assert [r[0] for r in read_rows(other)] == [1, 2]
