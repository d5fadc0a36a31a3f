"""``lakebox jobs ...`` (feature pipelines: executions, logs, backfills, schedules) and
``lakebox scheduler`` (run due scheduled jobs until stopped)."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from lakebox.cli.formats import escape
from lakebox.cli.output import format_value, jsonable
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import ValidationError

if TYPE_CHECKING:
    from rich.table import Table

_EVERY = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_STATE_STYLE = {"succeeded": "green", "failed": "red", "timed_out": "red", "killed": "yellow", "running": "cyan"}


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--param key=value`` pairs; a value that parses as JSON is that value, else a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"--param takes KEY=VALUE, got {pair!r}.")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _every(text: str) -> timedelta:
    match = _EVERY.match(text.strip())
    if not match:
        raise ValidationError(f"--every takes a number and a unit (s, m, h, d, w), e.g. 1d or 6h; got {text!r}.")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _emit(state: State, data: Any) -> None:
    click.echo(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def _state(value: str) -> str:
    style = _STATE_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def _when(value: Any) -> str:
    """A time for a table: seconds, UTC; a midnight as the date alone."""
    if value is None:
        return "-"
    if value.hour == value.minute == value.second == value.microsecond == 0:
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _executions_table(executions: list[dict[str, Any]], title: str, started: bool = True) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right", no_wrap=True, min_width=2)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("run", overflow="fold", min_width=23)
    if started:
        table.add_column("started", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("commits", overflow="fold")
    for e in executions:
        if e["window_start"]:
            what = f"{_when(e['window_start'])} → {_when(e['window_end'])}"
        else:
            what = e["trigger"] + (f" {json.dumps(e['params'])}" if e["params"] else "")
        tries = f" ×{e['attempts']}" if e["attempts"] > 1 else ""
        commits = ", ".join(f"{c['feature_group']} v{c['version']} #{c['commit_id']}" for c in e["commits"])
        cells = [str(e["number"]), _state(e["state"]) + tries, escape(what)]
        cells += [_when(e["start"])] if started else []
        table.add_row(*cells, _duration(e["duration_s"]), escape(commits or "-"))
    return table


def _print_execution(state: State, e: dict[str, Any]) -> None:
    console = state.console
    console.print(f"Execution {e['number']} of job [bold]{escape(e['job'])}[/]: {_state(e['state'])} "
                  f"in {_duration(e['duration_s'])} ({e['attempts']} attempt(s))")
    if e["error"]:
        console.print(f"  error: {escape(e['error'])}", soft_wrap=True)
    for c in e["commits"]:
        console.print(f"  wrote {escape(c['feature_group'])} v{c['version']} commit {c['commit_id']}")
    console.print(f"  log: {escape(e['log'])}  (lakebox jobs logs {escape(e['job'])} --execution {e['number']})",
                  soft_wrap=True)


@click.group("jobs", short_help="Feature pipelines: run, backfill, schedule, logs.")
def jobs() -> None:
    """Jobs: Python functions (feature pipelines) run in their own processes, with recorded
    executions, logs and the commits they made. Create them in Python
    (project.get_job_api().create_job) or with `lakebox jobs create`; schedules run inside
    `lakebox serve` or `lakebox scheduler`.
    """


@jobs.command("create", short_help="Create a job from a module function or a Python file.")
@click.argument("name")
@click.argument("entrypoint")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A default parameter (repeatable).")
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Extra attempts after a failure or timeout (backoff doubles from --retry-delay).")
@click.option("--retry-delay", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Seconds before the first retry.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds per attempt.")
@click.option("--schedule", "cron", default=None, metavar="CRON", help="A cron schedule, e.g. '0 3 * * *'.")
@click.option("--description", default="", help="What the job does (searchable).")
@output_option
@pass_state
def create(state: State, name: str, entrypoint: str, params: tuple[str, ...], retries: int, retry_delay: float,
           timeout: float | None, cron: str | None, description: str) -> None:
    """Create job NAME running ENTRYPOINT: 'package.module:function', or a Python file with a
    main(**params) (copied into the box; 'file.py:function' picks another function).

    \b
    Example:
      lakebox jobs create daily_sales pipelines/daily.py --param source=shop.db --retries 2
    """
    job = state.open().get_job_api().create_job(name, entrypoint, params=_params(params), schedule=cron,
                                                retries=retries, timeout=timeout, description=description,
                                                retry_delay=retry_delay)
    state.out.result(job.to_dict(), f"[green]✓[/] Created job [bold]{escape(name)}[/] ({escape(entrypoint)}).")


@jobs.command("list", short_help="List the jobs with their schedules and last executions.")
@output_option
@pass_state
def list_jobs(state: State) -> None:
    """List every job: entrypoint, schedule, and its last execution."""
    rows = []
    for job in state.open().get_job_api().get_jobs():
        executions = job.get_executions()
        last = executions[-1].to_dict() if executions else None
        rows.append({**job.to_dict(), "executions": len(executions), "last_execution": last})
    if not state.text:
        _emit(state, {"jobs": rows})
        return
    if not rows:
        state.console.print("No jobs yet. Create one with [bold]lakebox jobs create NAME ENTRYPOINT[/].")
        return
    from rich.table import Table

    table = Table(title="Jobs", title_justify="left")
    for column in ("job", "entrypoint", "schedule", "executions", "last", "when"):
        table.add_column(column, no_wrap=column in ("job", "executions", "last"))
    for row in rows:
        schedule = row["schedule"]
        when = "-"
        if schedule:
            parts = [schedule["cron"] or ""] + [f"on {g}" for g in schedule["trigger_on"]]
            when = " ".join(p for p in parts if p)
        last = row["last_execution"]
        table.add_row(escape(row["name"]), escape(row["entrypoint"]), escape(when), str(row["executions"]),
                      _state(last["state"]) if last else "-", _when(last["start"]) if last else "-")
    state.console.print(table)


@jobs.command("show", short_help="Show a job: definition, schedule, executions.")
@click.argument("name")
@click.option("--last", type=click.IntRange(min=1), default=20, show_default=True, help="Executions to list.")
@output_option
@pass_state
def show(state: State, name: str, last: int) -> None:
    """Show job NAME: its entrypoint, parameters, retries, timeout, schedule and its last
    executions (state, window or parameters, duration, commits made)."""
    job = state.open().get_job_api().get_job(name)
    data = job.to_dict()
    data["executions"] = [e.to_dict() for e in job.get_executions()[-last:]]
    data["tags"] = job.get_tags()
    if not state.text:
        _emit(state, data)
        return
    console = state.console
    console.print(f"[bold]{escape(name)}[/]  {escape(data['description'])}")
    console.print(f"  entrypoint: {escape(data['entrypoint'])}"
                  + (f" (copied, sha256 {data['file_hash'][:12]})" if data["file_hash"] else ""))
    console.print(f"  params: {escape(json.dumps(data['params']))}  retries: {data['retries']}  "
                  f"timeout: {_duration(data['timeout_s'])}")
    schedule = data["schedule"]
    if schedule:
        console.print(f"  schedule: {escape(str(schedule['cron'] or '-'))} ({schedule['timezone']})"
                      f"{' catch-up' if schedule['catch_up'] else ''}"
                      f"{' on commits of ' + ', '.join(schedule['trigger_on']) if schedule['trigger_on'] else ''}"
                      f"  next run: {format_value(schedule['next_run']) if schedule['next_run'] else '-'}")
    if data["tags"]:
        console.print(f"  tags: {escape(json.dumps(data['tags']))}")
    if data["executions"]:
        console.print(_executions_table(data["executions"], "Executions"))
    else:
        console.print(f"No executions yet: [bold]lakebox jobs run {escape(name)}[/].")


@jobs.command("run", short_help="Run a job now (waits unless --no-wait).")
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter for this run (repeatable).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the execution to end.")
@output_option
@pass_state
def run(state: State, name: str, params: tuple[str, ...], wait: bool) -> None:
    """Run job NAME once in its own process. Exits with status 1 when the execution does not
    succeed (its log says why: lakebox jobs logs NAME)."""
    job = state.open().get_job_api().get_job(name)
    with state.busy(f"Running {name}…"):
        execution = job.run(wait=wait, **_params(params))
    data = execution.to_dict()
    if state.text:
        _print_execution(state, data)
    else:
        _emit(state, data)
    if wait and data["state"] != "succeeded":
        raise SystemExit(1)


@jobs.command("logs", short_help="Print an execution's log.")
@click.argument("name")
@click.option("--execution", "number", type=click.IntRange(min=1), default=None, help="Execution number (default: last).")
@click.option("--tail", type=click.IntRange(min=1), default=None, help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing what a running execution writes until it ends.")
@pass_state
def logs(state: State, name: str, number: int | None, tail: int | None, follow: bool) -> None:
    """Print the output of an execution of job NAME (default: the latest): the function's
    prints, logging and tracebacks, and lakebox's lines about attempts and commits."""
    job = state.open().get_job_api().get_job(name)
    if number is None:
        executions = job.get_executions()
        if not executions:
            raise ValidationError(f"Job {name} has no executions yet; run it with `lakebox jobs run {name}`.")
        execution = executions[-1]
    else:
        execution = job.get_execution(number)
    text = execution.logs(tail)
    click.echo(text, nl=False)
    if follow:
        _follow(execution, len(execution.logs().encode("utf-8", errors="replace")) if tail else len(text.encode()))


def _follow(execution: Any, offset: int) -> None:
    """Print what the execution's log gains from byte ``offset`` on, until the execution ends."""
    import time

    delay = 0.05
    while True:
        done = execution.done  # read before the file: what was written before the end is printed
        try:
            with open(execution.log_path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            click.echo(chunk.decode("utf-8", errors="replace"), nl=False)
            delay = 0.05
        elif done:
            return
        else:
            time.sleep(delay)  # polling a file another process writes
            delay = min(delay * 2, 0.5)


@jobs.command("kill", short_help="Stop a running execution.")
@click.argument("name")
@click.option("--execution", "number", type=click.IntRange(min=1), default=None, help="Execution number (default: last).")
@output_option
@pass_state
def kill(state: State, name: str, number: int | None) -> None:
    """Stop a running execution of job NAME (recorded as killed)."""
    job = state.open().get_job_api().get_job(name)
    executions = job.get_executions()
    execution = job.get_execution(number) if number is not None else (executions[-1] if executions else None)
    if execution is None:
        raise ValidationError(f"Job {name} has no executions.")
    execution.kill()
    state.out.result(execution.to_dict(), f"Execution {execution.number} of job {escape(name)}: "
                                          f"{_state(execution.state)}.")


@jobs.command("backfill", short_help="Run a job once per time window over a range.")
@click.argument("name")
@click.option("--start", required=True, help="Start of the range (ISO-8601, e.g. 2026-01-01 or 2026-01-01T00:00:00Z).")
@click.option("--end", required=True, help="End of the range (exclusive).")
@click.option("--every", default="1d", show_default=True, help="Window length: a number and s, m, h, d or w.")
@click.option("--parallelism", type=click.IntRange(min=1), default=1, show_default=True, help="Windows at a time.")
@click.option("--resume", is_flag=True, help="Run only the windows that have not succeeded before.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter for every window.")
@output_option
@pass_state
def backfill(state: State, name: str, start: str, end: str, every: str, parallelism: int, resume: bool,
             params: tuple[str, ...]) -> None:
    """Run job NAME once per window [window_start, window_end) from --start to --end, in order.
    A failed window stops the backfill and the windows that remain are listed; rerun with
    --resume to continue. Exits with status 1 when a window failed.

    \b
    Example:
      lakebox jobs backfill daily_sales --start 2026-01-01 --end 2026-02-01 --every 1d
    """
    job = state.open().get_job_api().get_job(name)
    with state.busy(f"Backfilling {name}…"):
        result = job.backfill(start, end, every=_every(every), parallelism=parallelism, resume=resume,
                              **_params(params))
    data = result.to_dict()
    if not state.text:
        _emit(state, data)
    else:
        if data["executions"]:
            state.console.print(_executions_table(data["executions"], f"Backfill of {name}"))
        if result.skipped:
            state.console.print(f"{len(result.skipped)} window(s) had succeeded before and were skipped (--resume).")
        if result.succeeded:
            state.console.print(f"[green]✓[/] {len(data['executions'])} window(s) succeeded.")
        else:
            remaining = ", ".join(format_value(w[0]) for w in result.remaining)
            assert result.failed_window is not None  # a backfill that did not succeed names its failed window
            state.console.print(f"[red]✗[/] The window starting {format_value(result.failed_window[0])} failed "
                                f"(lakebox jobs logs {escape(name)}). Remaining: {escape(remaining)}. "
                                f"Continue with --resume.", soft_wrap=True)
    if not result.succeeded:
        raise SystemExit(1)


@jobs.command("schedule", short_help="Schedule a job (cron and/or new commits of groups).")
@click.argument("name")
@click.option("--cron", default=None, help="Cron expression, e.g. '0 3 * * *' (daily at 03:00).")
@click.option("--timezone", default="UTC", show_default=True, help="Time zone of the cron expression.")
@click.option("--start", default=None, help="No run before this time (ISO-8601; default: now).")
@click.option("--end", default=None, help="No run after this time.")
@click.option("--catch-up", is_flag=True, help="Run every fire time missed while no scheduler ran (else only the latest).")
@click.option("--trigger-on", "trigger_on", multiple=True, metavar="GROUP[:VERSION]",
              help="Also run when this feature group gets a new commit (repeatable).")
@output_option
@pass_state
def schedule(state: State, name: str, cron: str | None, timezone: str, start: str | None, end: str | None,
             catch_up: bool, trigger_on: tuple[str, ...]) -> None:
    """Schedule job NAME. `lakebox serve` or `lakebox scheduler` runs it, one execution at a time."""
    job = state.open().get_job_api().get_job(name)
    found = job.schedule(cron=cron, start=start, end=end, catch_up=catch_up, trigger_on=list(trigger_on) or None,
                         timezone=timezone)
    upcoming = format_value(found["next_run"]) if found["next_run"] else "on the next commit"
    state.out.result(found, f"[green]✓[/] Scheduled job [bold]{escape(name)}[/]; next run: {upcoming}. "
                            "It runs while `lakebox serve` or `lakebox scheduler` runs.")


@jobs.command("unschedule", short_help="Remove a job's schedule.")
@click.argument("name")
@output_option
@pass_state
def unschedule(state: State, name: str) -> None:
    """Remove the schedule and commit triggers of job NAME (running executions go on)."""
    state.open().get_job_api().get_job(name).unschedule()
    state.out.result({"name": name, "scheduled": False}, f"[green]✓[/] Job [bold]{escape(name)}[/] is unscheduled.")


@jobs.command("delete", short_help="Delete a job, its executions and logs.")
@click.argument("name")
@output_option
@pass_state
def delete(state: State, name: str) -> None:
    """Delete job NAME with its schedule, executions and logs (refused while it runs)."""
    state.open().get_job_api().get_job(name).delete()
    state.out.result({"name": name, "deleted": True}, f"[green]✓[/] Deleted job [bold]{escape(name)}[/].")


@click.command("scheduler", short_help="Run scheduled jobs until Ctrl+C (lakebox serve does too).")
@click.option("--interval", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Seconds between looks at the schedules.")
@click.option("--once", is_flag=True, help="Start what is due now and exit.")
@pass_state
def scheduler(state: State, interval: float, once: bool) -> None:
    """Run the job scheduler of the box: start due cron runs and commit-triggered runs, one
    execution of a job at a time. Any number of schedulers (and `lakebox serve`) may run on
    one box: each due execution starts exactly once."""
    sched = state.open().get_job_api().scheduler()

    def announce(started: Any) -> None:
        state.err_console.print(f"started execution {started.execution.number} of job "
                                f"[bold]{escape(started.job)}[/] ({escape(started.reason)})")

    if once:
        for started in sched.tick():
            announce(started)
        return
    state.err_console.print(f"Scheduler running every {interval:g} s (Ctrl+C to stop).")
    stop = threading.Event()
    try:
        sched.run(stop, interval, on_start=announce)
    except KeyboardInterrupt:
        stop.set()
    state.err_console.print("Scheduler stopped.")


# -- the jobs step of `lakebox demo` -------------------------------------------------------------
def demo_section(state: State, built: Any) -> dict[str, Any]:
    """Backfill the demo's pipeline job over its first days and show the executions (text
    output); returns the data for JSON output."""
    from lakebox.demo import START
    from lakebox.demo_jobs import run_demo_backfill

    with state.busy("Backfilling a feature pipeline job, one process per day…"):
        data = run_demo_backfill(built.project, START, built.days)
    if not state.text:
        return data
    console = state.console
    console.print()
    console.print("[bold]Feature pipelines as jobs[/]: the job [bold]team_daily[/] turns a day of games into each "
                  "home team's mean attendance; a backfill ran it once per day, each day in its own process.",
                  soft_wrap=True)
    console.print(_executions_table(data["backfill"]["executions"], "Backfill executions", started=False))
    if data["succeeded"]:
        console.print(f"{escape(data['group'])} now holds {data['group_rows']} rows (team × day; re-running a day "
                      "replaces its rows). Lineage, recorded from the commits the executions made:")
        console.print(escape(data["lineage"]))
    else:
        console.print(f"[red]The backfill failed[/]; its log ends with:\n{escape(data['log_tail'])}")
    where = escape(str(built.project.path))
    console.print(f"Try: [bold]lakebox --box {where} jobs show team_daily[/] (or jobs logs, jobs schedule).",
                  soft_wrap=True)
    return data
