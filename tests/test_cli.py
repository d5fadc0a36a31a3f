"""The ``lakebox`` command line, run with click's CliRunner against real boxes in tmp_path: init,
the demo tour, API keys and serve's refusals, help. Groups are in ``test_cli_groups.py``; SQL,
views, datasets, features, search and lineage in ``test_cli_queries.py``; the shared demo box
(``demo_box``) and ``box`` are fixtures of ``conftest.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_run import TRAINING, assert_one_line_error, run, run_json
from click.testing import Result

from lakebox.cli import cli, main
from lakebox.demo import generate


# -- init ------------------------------------------------------------------------------------
def test_init_creates_a_box_and_leaves_an_existing_one_alone(tmp_path: Path) -> None:
    path = tmp_path / "new"
    first = run("init", path)
    assert "Created an empty box" in first.stdout
    assert (path / "lakebox.toml").is_file()
    again = run_json("init", path)
    assert again == {"path": str(path.resolve()), "created": False, "feature_groups": 0}


def test_init_defaults_to_the_global_box_option(tmp_path: Path) -> None:
    path = tmp_path / "global"
    assert run_json("--box", path, "init")["created"] is True
    assert (path / "lakebox.toml").is_file()


def test_read_commands_never_create_a_box(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    result = run("--box", missing, "fg", "list", code=1)
    assert_one_line_error(result, "storage_error")
    assert "lakebox init" in result.stderr
    assert not missing.exists()


# -- demo ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    """The full demo, training section included (~35 s of CPU: the slow tour tests only; the
    other CLI tests read ``demo_box``, a demo without training, built once per run)."""
    path = tmp_path_factory.mktemp("demo") / "demo.lakebox"
    return path, run("demo", "--box", path)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_demo_tours_time_travel_commits_sql_training_and_serving(demo_run: tuple[Path, Result]) -> None:
    out = demo_run[1].stdout
    for heading in (
        "Feature groups", "Commits", "Time travel", "Commit history", "Incremental read", "SQL",
        "Feature view and training dataset", "Reproducible training data", "Search", "Statistics",
        "Data validation", "Lineage", "Online serving", "Try next",
    ):  # fmt: skip
        assert heading in out
    corrected = generate().corrections[0].iloc[0]
    row = next(line for line in out.splitlines() if line.split("│")[1:2] == [f" {corrected.player_id:>9} "])
    assert str(corrected.old_rating) in row and str(corrected.new_rating) in row
    assert "525 rows changed after day 1" in out
    assert "avg_attendance" in out
    assert "Training dataset v1 (parquet): test 400, train 1,600 rows." in out
    assert "The view now reads 2,001 rows" in out
    assert "✓ the same rows" in out and "✓ equal" in out
    assert "http://127.0.0.1:" in out
    catalog = out[out.index("Search ─") : out.index("Online serving")]
    assert 'project.search("attend")' in catalog and "training_dataset" in catalog and "games:1" in catalog
    assert "players.get_statistics()" in catalog and "rating" in catalog and "defender ×390" in catalog
    assert any(block in catalog for block in "▁▂▃▄▅▆▇█")
    assert "✗ refused: 4 of 4 expectations failed on 5 rows" in catalog and "position=striker" in catalog
    assert "✓ nothing written: 2 commits and 1,000 rows, as before." in catalog
    assert "training dataset attendance v1" in catalog and "↑ materializes: feature view attendance v1" in catalog
    assert "↑ read_snapshot (commit 2): feature group games v1" in catalog
    if not TRAINING:
        assert "bash scripts/install.sh train" in out  # the section says how to enable it
        return
    trained = out[out.index("Experiments: one training function") : out.index("Try next")]
    assert "attendance_gbr_search run 1: 4 trials" in trained and "★" in trained
    assert "attendance_torch_ddp run 1: 2 ranks" in trained
    assert "Best by r2: attendance_model v" in trained and "model attendance_model v" in trained
    assert "↑ trained_on: training dataset attendance v1" in trained and "feature group games v1" in trained
    data = run_json("--box", demo_run[0], "lineage", "games", "--direction", "down")
    relations = {(data["nodes"][str(e["src"])]["kind"], e["relation"], data["nodes"][str(e["dst"])]["kind"])
                 for e in data["edges"]}  # fmt: skip
    assert {("training_dataset", "input", "experiment"), ("training_dataset", "trained_on", "model")} <= relations


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_demo_json_then_refused_unless_fresh(tmp_path: Path) -> None:
    path = tmp_path / "g.lakebox"
    data = run_json("--box", path, "demo")  # the global --box is the demo's box
    assert data["box"] == str(path.resolve())
    assert [c["group"] for c in data["commits"]] == ["teams", "players", "games"] * 2
    travel = data["time_travel"]["rows"]
    assert all(r["rating_as_of_day_1"] != r["rating_now"] for r in travel)
    assert data["incremental"]["row_count"] == 525
    assert len(data["sql"]["rows"]) == 5

    view = data["feature_view"]
    assert (view["name"], view["labels"], view["transformation_functions"]) == (
        "attendance", ["attendance"], {"home_budget": "standard_scaler"})  # fmt: skip
    dataset = data["training_dataset"]
    assert dataset["row_counts"] == {"test": 400, "train": 1600}
    assert dataset["split"] == {"kind": "random", "test_size": 0.2, "validation_size": None, "seed": 42}
    assert [(s["group"], s["commit_id"]) for s in dataset["snapshots"]] == [("games", 2), ("teams", 2)]
    rep = data["reproducibility"]
    assert rep["late_commit"]["commit_id"] == 3 and rep["view_rows_now"] == 2001
    assert rep["rows_before"] == rep["rows_after"] == 2000
    assert rep["checksum_before"] == rep["checksum_after"] == dataset["checksum"]
    catalog = data["catalog"]
    assert [(h["kind"], h["name"]) for h in catalog["search"]["hits"]][:1] == [("feature", "attendance")]
    assert catalog["statistics"]["statistics"]["$row_count"] == 1000
    assert catalog["statistics"]["statistics"]["rating"]["count"] == 1000
    check = catalog["validation"]
    assert check["refused"] and not check["report"]["success"]
    assert sorted(r["rule"] for r in check["report"]["results"] if not r["success"]) == [
        "between", "between", "in_set", "not_null"]  # fmt: skip
    assert (check["commits_before"], check["rows_before"]) == (check["commits_after"], check["rows_after"]) == (2, 1000)
    lineage = catalog["lineage"]
    assert lineage["nodes"][str(lineage["root"])]["kind"] == "training_dataset"
    assert {e["relation"] for e in lineage["edges"]} == {"materializes", "read_snapshot", "reads"}
    serving = data["serving"]
    assert serving["equal"] and serving["in_process"] == serving["over_http"]
    assert serving["entry"] == {"game_id": 2001} and serving["in_process"][:2] == [1, 2]
    assert "secret" not in json.dumps(data) and "lbk_" not in json.dumps(data)
    trained = data["training"]
    if TRAINING:
        assert [t["status"] for t in trained["search"]["trials"]] == ["finished"] * 4
        assert len(trained["distributed"]["ranks"]) == 2 and trained["feature_groups"] == ["games", "teams"]
        assert [m["name"] for m in trained["models"]] == ["attendance_model"] * 2
    keys = run_json("--box", path, "apikey", "list")["api_keys"]
    assert keys and not any(k["active"] for k in keys)  # the demo's keys (vectors, predictions) were revoked after use

    refused = run("demo", "--box", path, code=1)
    assert_one_line_error(refused, "already_exists")
    assert "--fresh" in refused.stderr and "feature view attendance v1" in refused.stderr
    rebuilt = run("demo", "--box", path, "--fresh", "--no-training")
    assert "Deleted the previous demo: feature view attendance v1, teams v1" in rebuilt.stdout
    assert not TRAINING or "Deleted what the previous demo trained: model attendance_model v1" in rebuilt.stdout
    groups = run_json("--box", path, "fg", "list")["feature_groups"]
    # games has the late game of the reproducibility step as a third commit
    demo_groups = sorted((g["name"], g["commit_count"]) for g in groups if g["name"] in ("games", "players", "teams"))
    assert demo_groups == [("games", 3), ("players", 2), ("teams", 2)]  # (other demo steps add their own groups)
    views = run_json("--box", path, "fv", "list")["feature_views"]
    assert [(v["name"], len(v["training_datasets"])) for v in views] == [("attendance", 1)]


# -- API keys and serve (refusals; the running server is tests/test_cli_serving.py) ----------
def test_apikey_create_list_revoke(box: Path) -> None:
    created = run("--box", box, "apikey", "create", "ci", "--scope", "read:online")
    secret = created.stdout.strip()
    assert secret.startswith("lbk_") and len(created.stdout.splitlines()) == 1  # stdout: the secret alone
    assert "cannot be shown again" in created.stderr
    made = run_json("--box", box, "apikey", "create", "admin_key", "--scope", "admin", "--scope", "read:online")
    assert made["secret"].startswith(made["prefix"] + "_") and "cannot be shown again" in made["warning"]
    assert made["scopes"] == ["admin", "read:online"]

    listed = run_json("--box", box, "apikey", "list")["api_keys"]
    assert [(k["name"], k["active"]) for k in listed] == [("ci", True), ("admin_key", True)]
    assert set(listed[0]) >= {"name", "prefix", "scopes", "created_at", "revoked_at", "active"}
    text = run("--box", box, "apikey", "list").stdout
    for shown in (text, json.dumps(listed)):
        assert secret not in shown and secret.split("_", 2)[2] not in shown
        assert made["secret"].split("_", 2)[2] not in shown

    assert "Revoked API key ci" in run("--box", box, "apikey", "revoke", "ci").stdout
    listed = run_json("--box", box, "apikey", "list")["api_keys"]
    assert listed[0]["active"] is False and listed[0]["revoked_at"]
    assert_one_line_error(run("--box", box, "apikey", "revoke", "ci", code=1), "not_found")
    assert_one_line_error(run("--box", box, "apikey", "create", "admin_key", code=1), "already_exists")
    assert run("--box", box, "apikey", "create", "x", "--scope", "root", code=2).exit_code == 2
    assert "No API keys" in run("--box", run_json("init", box.parent / "other")["path"], "apikey", "list").output


def test_serve_refuses_unsafe_binds(box: Path) -> None:
    exposed = run("serve", box, "--host", "0.0.0.0", code=1)
    assert_one_line_error_after_notes(exposed, "auth_error")
    assert "Refusing to bind 0.0.0.0" in exposed.stderr and "apikey create" in exposed.stderr
    run("--box", box, "apikey", "create", "ops")
    no_auth = run_json("serve", box, "--host", "0.0.0.0", "--no-auth", code=1)
    assert no_auth["error"] == "auth_error" and "loopback" in no_auth["message"]
    missing = run("serve", box.parent / "typo", code=1)
    assert_one_line_error(missing, "storage_error")


def test_serve_help_explains_the_secure_defaults() -> None:
    text = " ".join(run("serve", "--help").stdout.split())
    for part in (
        "127.0.0.1", "0.0.0.0", "anyone on the network", "refused unless API keys exist", "/health",
        "Authorization: Bearer", "--no-auth", "loopback-only development", "--allowed-host", "DNS rebinding",
    ):  # fmt: skip
        assert part in text, part


def assert_one_line_error_after_notes(result: Result, code: str) -> None:
    """``serve`` prints where it starts (and a key hint) before the server refuses."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"Error [{code}] "), result.stderr
    assert any(line.startswith("Starting lakebox for ") for line in lines) and "Traceback" not in result.output


# -- help ------------------------------------------------------------------------------------
def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_command_and_option_is_documented() -> None:
    found = list(_commands(cli))
    names = {" ".join(path) for path, _ in found}
    assert {"init", "sql", "demo", "fg", "fg list", "fg show", "fg head", "fg commits", "fg ingest"} <= names
    assert {
        "fg maintain", "fg online", "fv list", "fv show", "td create", "td list", "td show", "features",
        "online rebuild", "online status", "serve", "apikey create", "apikey list", "apikey revoke",
        "search", "lineage", "fg stats", "fg validations", "tag add", "tag list", "tag remove",
    } <= names  # fmt: skip
    for path, command in found:
        assert (command.help or "").strip(), f"`lakebox {' '.join(path)}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert (param.help or "").strip(), f"`lakebox {' '.join(path)} {param.opts[0]}` has no help"
        result = run(*path, "--help")
        assert "Usage: " in result.stdout and (command.help or "").split()[0] in result.stdout
        if path:  # the one-line summary in the parent's command list is never cut off
            assert not command.get_short_help_str(limit=60).endswith("..."), path


def test_verbose_logs_to_stderr(box: Path, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("team_id,name\n1,Lions\n")
    result = run("-v", "--box", box, "fg", "ingest", "teams", path, "-k", "team_id")
    assert "commit 1 inserted 1" in result.stderr
    assert "commit 1" in result.stdout


def test_main_entry_point_reports_its_version() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
