"""Jobs as catalog assets: ``project.get_job_api()``, ``JobApi`` and ``Job``.

    job_api = project.get_job_api()
    job = job_api.create_job("daily", "pipelines/daily.py", params={"source": "shop.db"})
    execution = job.run(day="2026-01-01")       # its own process; waits unless wait=False
    execution.state, execution.logs(), execution.commits
    job.backfill(start, end, every=timedelta(days=1))
    job.schedule(cron="0 3 * * *")              # run by `lakebox serve` or `lakebox scheduler`
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakebox.catalog.assets import AssetStore
from lakebox.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from lakebox.tags import Taggable

if TYPE_CHECKING:  # the job store loads with the first job read (Project imports this module)
    from collections.abc import Callable

    from lakebox.jobs.backfill import Backfill
    from lakebox.jobs.execution import Execution
    from lakebox.jobs.scheduler import Scheduler
    from lakebox.jobs.store import JobRow, JobStore

_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,99}$")
RESERVED = ("window_start", "window_end", "scheduled_for", "execution_id")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(
            f"Job name {name!r} must be 1-100 characters of lower-case letters, digits, '_', '.' or '-' "
            "(e.g. 'daily_players')."
        )
    return name


def check_params(params: Any, what: str = "params") -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ValidationError(f"{what} must be a dict with string keys, got {type(params).__name__}.")
    reserved = sorted(set(params) & set(RESERVED))
    if reserved:
        raise ValidationError(f"{what} may not set {reserved}: lakebox passes those itself (backfills, schedules).")
    try:
        json.dumps(params, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValidationError(
            f"{what} must be JSON values (strings, numbers, booleans, lists, dicts): {e}. Pass times as ISO strings."
        ) from e
    return dict(params)


def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValidationError(f"{what} must be a positive number of seconds or a timedelta, got {value!r}.")
    return float(value)


class JobsMixin:
    """``Project.get_job_api()``."""

    def get_job_api(self) -> JobApi:
        """The box's jobs: feature pipelines with executions, backfills and schedules."""
        return JobApi(self)


def job_store(project: Any) -> JobStore:
    from lakebox.jobs.store import JobStore

    return JobStore(project.engines.catalog, project.path)


class JobApi:
    def __init__(self, project: Any) -> None:
        self._project = project
        self._store = job_store(project)

    def create_job(
        self,
        name: str,
        entrypoint: str,
        params: dict[str, Any] | None = None,
        schedule: str | None = None,
        retries: int = 0,
        timeout: float | timedelta | None = None,
        description: str = "",
        retry_delay: float | timedelta = 1.0,
    ) -> Job:
        """Create a job. ``entrypoint``: ``"package.module:function"`` or a Python file with a
        ``main(**params)`` (copied into the box, its sha256 recorded). ``params``: defaults that
        each run's parameters override. ``retries``: extra attempts after a failure or timeout,
        waiting ``retry_delay`` seconds, doubled each time. ``timeout``: seconds per attempt.
        ``schedule``: a cron expression (see ``Job.schedule``)."""
        from pathlib import Path

        from lakebox.jobs import entry

        check_name(name)
        params = check_params(params)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValidationError(f"retries must be a non-negative integer, got {retries!r}.")
        timeout_s = _seconds(timeout, "timeout")
        delay_s = _seconds(retry_delay, "retry_delay")
        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        if self._store.job(name) is not None:
            raise AlreadyExistsError(f"A job named {name!r} exists already; get it with job_api.get_job({name!r}).")
        if schedule is not None:
            from lakebox.jobs import cron

            cron.check(schedule)
        found = entry.parse(entrypoint)
        target, digest = found.target, None
        if found.kind == "file":
            target, digest = entry.copy_into(self._project.path, name, Path(found.target))
        row = self._store.create_job(name, description, str(entrypoint), found.kind, target, found.function, digest,
                                     params, retries, delay_s or 1.0, timeout_s)
        job = Job(self._project, self._store, row)
        if schedule is not None:
            job.schedule(cron=schedule)
        return job

    def get_job(self, name: str) -> Job:
        row = self._store.job(name)
        if row is None:
            names = [j.name for j in self._store.jobs()]
            raise NotFoundError(f"No job named {name!r}; jobs: {names or 'none yet (create_job)'}.")
        return Job(self._project, self._store, row)

    def get_jobs(self) -> list[Job]:
        return [Job(self._project, self._store, row) for row in self._store.jobs()]

    def schedule_drift_monitor(self, monitor: str, cron: str, timezone: str = "UTC", catch_up: bool = False,
                               name: str | None = None) -> Job:
        """Run drift monitor ``monitor`` on a cron schedule (a job ``drift_<monitor>`` running
        ``lakebox.jobs.builtin:run_drift_monitor``; each run scores the window ending at its
        fire time). Scheduling it again changes the schedule."""
        self._project.get_feature_store().get_drift_monitor(monitor)  # exists? (NotFoundError names it)
        job_name = name or f"drift_{monitor}"
        if self._store.job(job_name) is None:
            job = self.create_job(job_name, "lakebox.jobs.builtin:run_drift_monitor", params={"monitor": monitor},
                                  description=f"Runs drift monitor {monitor} on a schedule.")
        else:
            job = self.get_job(job_name)
        job.schedule(cron=cron, timezone=timezone, catch_up=catch_up)
        return job

    def scheduler(self, clock: Callable[[], datetime] | None = None) -> Scheduler:
        """A scheduler for this box (``tick()`` starts what is due; ``run(stop)`` loops).
        ``clock``: a function returning the current time (tests inject one)."""
        from lakebox.jobs.scheduler import Scheduler

        return Scheduler(self._store, clock)

    def get_execution(self, execution_id: int) -> Execution:
        from lakebox.jobs.execution import Execution

        row = self._store.execution(execution_id)
        return Execution(self._store, row, self._store.job_by_id(row.job_id).name)


class Job(Taggable):
    """A feature pipeline: a Python function run in its own process, on demand, per backfill
    window, on a cron schedule or when a feature group gets new commits."""

    _asset_kind = "job"

    def __init__(self, project: Any, store: JobStore, row: JobRow) -> None:
        self._project = project
        self._store = store
        self._row = row

    def _assets(self) -> AssetStore:
        return AssetStore(self._store.db)

    @property
    def version(self) -> None:  # type: ignore[override]
        """Jobs are not versioned (an asset without a version)."""
        return None

    @property
    def entrypoint(self) -> str:
        return self._row.entrypoint

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._row.params)

    @property
    def retries(self) -> int:
        return self._row.retries

    @property
    def timeout(self) -> float | None:
        return self._row.timeout_s

    @property
    def file_hash(self) -> str | None:
        """sha256 of the job file as copied into the box (None for a module entrypoint)."""
        return self._row.file_hash

    @property
    def created(self) -> datetime | None:
        from lakebox.jobs.store import parse_time

        return parse_time(self._row.created_at)

    # -- running --------------------------------------------------------------------------
    def run(self, wait: bool = True, timeout: float | None = None, await_termination: bool | None = None,
            **params: Any) -> Execution:
        """Run the job once in its own process with ``params`` (over the job's defaults).
        ``wait=False`` returns at once; ``execution.wait()`` blocks later. ``timeout`` bounds
        only this wait (the job's own timeout is set at creation). ``await_termination`` is
        the Hopsworks name of ``wait``."""
        from lakebox.jobs import launch
        from lakebox.jobs.execution import Execution

        if await_termination is not None:
            wait = await_termination
        row = launch.start(self._store, self._reload(), "manual", check_params(params))
        assert row is not None
        execution = Execution(self._store, row, self.name)
        return execution.wait(timeout) if wait else execution

    def get_executions(self) -> list[Execution]:
        """Every execution of the job, oldest first (ones whose process died are recorded as killed)."""
        from lakebox.jobs.execution import Execution

        self._store.reap(self.id)
        return [Execution(self._store, row, self.name) for row in self._store.executions(self.id)]

    def get_execution(self, number: int) -> Execution:
        for execution in self.get_executions():
            if execution.number == number:
                return execution
        raise NotFoundError(f"Job {self.name} has no execution {number}.")

    def backfill(
        self,
        start: Any,
        end: Any,
        every: timedelta = timedelta(days=1),
        parallelism: int = 1,
        resume: bool = False,
        **params: Any,
    ) -> Backfill:
        """Run the job once per window ``[window_start, window_end)`` from ``start`` to ``end``,
        in order (``parallelism`` at a time). A window that fails stops it; the result lists the
        windows that remain, and ``resume=True`` runs only windows that have not succeeded."""
        from lakebox.jobs import backfill

        return backfill.run(self._store, self._reload(), start, end, every, parallelism, resume, check_params(params))

    # -- schedules ------------------------------------------------------------------------
    def schedule(
        self,
        cron: str | None = None,
        start: Any = None,
        end: Any = None,
        catch_up: bool = False,
        trigger_on: list[Any] | None = None,
        timezone: str = "UTC",
        *,
        cron_expression: str | None = None,
        start_time: Any = None,
        end_time: Any = None,
    ) -> dict[str, Any]:
        """Run the job on a cron schedule (``"0 3 * * *"``: daily at 03:00 in ``timezone``) and/or
        when any group in ``trigger_on`` gets a new commit. The scheduler of ``lakebox serve`` or
        ``lakebox scheduler`` runs it, one execution at a time. Fire times missed while no
        scheduler ran: with ``catch_up=True`` each runs (in order); otherwise only the latest."""
        from lakebox.jobs import backfill
        from lakebox.jobs import cron as cron_module

        cron = cron if cron is not None else cron_expression  # the Hopsworks names
        start = start if start is not None else start_time
        end = end if end is not None else end_time
        if cron is None and not trigger_on:
            raise ValidationError("Give a cron expression, trigger_on=[feature_group, ...], or both.")
        if cron is not None:
            cron = cron_module.check(cron, timezone)
        cron_module.zone(timezone)
        begin = backfill.as_utc(start, "start") if start is not None else datetime.now(UTC)
        finish = backfill.as_utc(end, "end") if end is not None else None
        if finish is not None and finish <= begin:
            raise ValidationError("A schedule's end must be after its start.")
        if trigger_on is not None and not isinstance(trigger_on, (list, tuple)):
            trigger_on = [trigger_on]
        groups = [self._group_id(g) for g in trigger_on or []]
        from lakebox.jobs.store import iso

        self._store.set_schedule(self.id, cron, timezone, iso(begin), iso(finish) if finish else None,
                                 bool(catch_up), groups)
        assets = self._assets()
        for group_id in groups:
            assets.link(assets.get("feature_group", group_id).id, self._asset().id, "triggers")
        found = self.get_schedule()
        assert found is not None
        return found

    def unschedule(self) -> None:
        """Stop running the job on its schedule and triggers (executions already started go on)."""
        if not self._store.remove_schedule(self.id):
            raise NotFoundError(f"Job {self.name} has no schedule.")

    def get_schedule(self) -> dict[str, Any] | None:
        """The schedule (cron, time zone, start, end, catch_up, trigger_on, next_run) or None."""
        from lakebox.jobs import cron as cron_module

        row = self._store.schedule(self.id)
        if row is None:
            return None
        groups = self._project.engines.groups
        names = []
        for group_id, _ in row.triggers:
            group = groups.get_by_id(group_id)
            if group is not None:
                names.append(f"{group.name}:{group.version}")
        from lakebox.jobs.store import parse_time

        since = parse_time(row.last_fire) or parse_time(row.start_at)  # start_at is always set
        after = max(since, datetime.now(UTC)) if since is not None else datetime.now(UTC)
        upcoming = cron_module.next_fire(row.cron, row.timezone, after) if row.cron else None
        end = parse_time(row.end_at)
        if upcoming is not None and end is not None and upcoming > end:
            upcoming = None
        return {
            "cron": row.cron,
            "timezone": row.timezone,
            "start": parse_time(row.start_at),
            "end": end,
            "catch_up": row.catch_up,
            "trigger_on": names,
            "last_fire": parse_time(row.last_fire),
            "next_run": upcoming,
        }

    def _group_id(self, group: Any) -> int:
        groups = self._project.engines.groups
        if getattr(group, "is_external", False):
            raise ValidationError(
                f"trigger_on: {group.name} is an external feature group: it has no commits to trigger on "
                "(its source changes outside lakebox). Schedule the job with cron= instead."
            )
        if hasattr(group, "name") and hasattr(group, "version") and hasattr(group, "id"):
            return int(group.id)
        if isinstance(group, str):
            name, _, version = group.partition(":")
            number = int(version) if version.isdigit() else groups.latest_version(name)
            row = groups.get(name, number) if number is not None else None
            if row is not None:
                return row.id
        raise ValidationError(f"trigger_on takes feature groups (or 'name' / 'name:version'); {group!r} is none.")

    # -- lifecycle ------------------------------------------------------------------------
    def update(
        self,
        entrypoint: str | None = None,
        params: dict[str, Any] | None = None,
        retries: int | None = None,
        timeout: float | timedelta | None = None,
        description: str | None = None,
        retry_delay: float | timedelta | None = None,
    ) -> Job:
        """Change the job; executions from now on use the change (history is kept). A file
        entrypoint is copied again (pass the same path after editing the file) with its new
        hash; ``params`` replaces the defaults."""
        from pathlib import Path

        from lakebox.jobs import entry

        values: dict[str, Any] = {}
        if entrypoint is not None:
            found = entry.parse(entrypoint)
            target, digest = found.target, None
            if found.kind == "file":
                target, digest = entry.copy_into(self._project.path, self.name, Path(found.target))
            values.update(entrypoint=str(entrypoint), kind=found.kind, target=target, function=found.function,
                          file_hash=digest)
        if params is not None:
            values["params"] = json.dumps(check_params(params))
        if retries is not None:
            if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
                raise ValidationError(f"retries must be a non-negative integer, got {retries!r}.")
            values["retries"] = retries
        if timeout is not None:
            values["timeout_s"] = _seconds(timeout, "timeout")
        if retry_delay is not None:
            values["retry_delay_s"] = _seconds(retry_delay, "retry_delay")
        if description is not None:
            if not isinstance(description, str):
                raise ValidationError("description must be a string.")
            values["description"] = description
        if values:
            self._store.update_job(self.id, values)
        self._reload()
        return self

    def delete(self) -> None:
        """Delete the job, its schedule, executions and logs (refused while an execution runs)."""
        self._store.reap(self.id)
        running = self._store.running(self.id)
        if running:
            raise ConflictError(
                f"Job {self.name} is running (execution {running[0].number}); wait for it or kill it "
                f"(job.get_execution({running[0].number}).kill()) before deleting the job."
            )
        self._store.delete_job(self.id)
        root = self._project.path
        import shutil

        for folder in (root / "artifacts" / "jobs" / self.name, root / "logs" / "jobs" / self.name):
            shutil.rmtree(folder, ignore_errors=True)

    def _reload(self) -> JobRow:
        self._row = self._store.job_by_id(self.id)
        return self._row

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "entrypoint": self.entrypoint,
            "kind": self._row.kind,
            "target": self._row.target,
            "function": self._row.function,
            "file_hash": self.file_hash,
            "params": self.params,
            "retries": self.retries,
            "timeout_s": self.timeout,
            "created": self.created,
            "schedule": self.get_schedule(),
        }

    def __repr__(self) -> str:
        return f"Job({self.name!r}, entrypoint={self.entrypoint!r})"
