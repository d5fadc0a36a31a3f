"""``lakebox online ...``: the online store (LMDB), derived from the offline store."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from lakebox.cli.formats import plural
from lakebox.cli.state import State, output_option, pass_state

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_store import FeatureStore


@click.group("online", short_help="Online store: status, rebuild.")
def online() -> None:
    """The online store: the latest row per key of every online-enabled feature group, read by
    feature vectors. It is derived from the offline store and can always be rebuilt from it.
    """


@online.command("status", short_help="Keys served and commits behind, per group.")
@output_option
@pass_state
def status(state: State) -> None:
    """Show, for every online-enabled feature group, how many keys the online store serves and
    how many commits it has not applied yet (0 when in step with the offline store)."""
    project = state.open()
    fs = project.get_feature_store()
    groups = []
    for group in _online_groups(fs):
        lag = group.online_lag()
        commits = group.commits()
        last = commits[-1].commit_id if commits else None
        groups.append(
            {
                "name": group.name,
                "version": group.version,
                "keys": _online_keys(project, group),
                "last_commit": last,
                "applied_commit": (last - lag) if last is not None else None,
                "commits_behind": lag,
            }
        )
    state.out.online(groups)


@online.command("rebuild", short_help="Rebuild online tables from the offline store.")
@click.argument("names", nargs=-1)
@output_option
@pass_state
def rebuild(state: State, names: tuple[str, ...]) -> None:
    """Recreate the online table of each group NAMES (latest versions), or of every
    online-enabled group when no name is given, from the offline store's current data."""
    fs = state.open().get_feature_store()
    groups = [fs.get_feature_group(name) for name in names] if names else _online_groups(fs)
    results: list[dict[str, Any]] = []

    def run(group: FeatureGroup) -> None:
        started = time.perf_counter()
        keys = group.rebuild_online()
        seconds = time.perf_counter() - started
        results.append({"name": group.name, "version": group.version, "keys": keys, "seconds": round(seconds, 3)})

    if state.interactive and groups:
        columns = (SpinnerColumn(finished_text="[green]✓[/]"), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=state.err_console) as progress:
            tasks = [progress.add_task(f"{escape(g.name)} v{g.version}", total=1, start=False) for g in groups]
            for group, task in zip(groups, tasks, strict=True):
                progress.start_task(task)
                progress.update(task, description=f"Rebuilding {escape(group.name)} v{group.version}")
                run(group)
                progress.update(
                    task,
                    completed=1,
                    description=f"{escape(group.name)} v{group.version}: {plural(results[-1]['keys'], 'key')}",
                )
    else:
        for group in groups:
            run(group)

    if not results:
        message = "No online-enabled feature groups: nothing to rebuild."
    else:
        listed = ", ".join(f"{r['name']} v{r['version']} ({plural(r['keys'], 'key')})" for r in results)
        message = f"[green]✓[/] Rebuilt {plural(len(results), 'online table')}: {escape(listed)}."
    state.out.result({"rebuilt": results}, message)


def _online_groups(fs: FeatureStore) -> list[FeatureGroup]:
    return [g for g in fs.get_feature_groups() if g.online_enabled]


def _online_keys(project: Any, group: FeatureGroup) -> int:
    # not fg.read(online=True): that would replay missed commits (a status must not repair)
    return int(group.online_key_count())
