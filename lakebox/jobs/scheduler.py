"""The job scheduler: starts due executions of scheduled jobs.

``Scheduler(store, clock=...)`` looks at every schedule on each ``tick()``: cron fire times that
came due since the schedule's last handled one, and new commits of the groups in its
``trigger_on``. It never starts an execution of a job while another one runs (the check and
the start are one catalog transaction), and it claims each due run with a unique key in the
catalog (``cron:<job>:<fire time>``, ``commit:<job>:<group>:<commit>``), so any number of
schedulers on one box — in ``lakebox serve``, ``lakebox scheduler`` or a test — start each due
execution exactly once. The clock is injectable: tests move time, nothing sleeps through minutes.

Missed fire times (no scheduler ran): ``catch_up=True`` runs each in order, one at a time;
otherwise only the latest runs and the older ones are skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lakebox.jobs import cron, launch
from lakebox.jobs.store import ExecutionRow, JobStore, ScheduleRow, iso, parse_time

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Started:
    """An execution a tick started."""

    job: str
    execution: ExecutionRow
    reason: str  # "cron 2026-01-01T03:00:00Z" or "commit 12 of players v1"


class Scheduler:
    def __init__(self, store: JobStore, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or _utc_now

    def tick(self, now: datetime | None = None) -> list[Started]:
        """Start what is due at ``now`` (default: the clock); returns what was started."""
        now = now or self.clock()
        self.store.reap()
        started: list[Started] = []
        for schedule in self.store.schedules():
            try:
                started.extend(self._due(schedule, now))
            except Exception:  # noqa: BLE001 - one broken job must not stop the others
                log.exception("scheduler: job %s could not be scheduled", schedule.job_id)
        return started

    def _due(self, schedule: ScheduleRow, now: datetime) -> list[Started]:
        job = self.store.job_by_id(schedule.job_id)
        started: list[Started] = []
        if schedule.cron:
            found = self._cron(schedule, job, now)
            if found is not None:
                started.append(found)
        for group_id, last in schedule.triggers:
            if started:
                break  # one execution at a time: the commits wait for the next tick
            found = self._commits(schedule, job, group_id, last)
            if found is not None:
                started.append(found)
        return started

    def _cron(self, schedule: ScheduleRow, job: Any, now: datetime) -> Started | None:
        assert schedule.cron is not None
        after = parse_time(schedule.last_fire) or parse_time(schedule.start_at)
        assert after is not None
        end = parse_time(schedule.end_at)
        until = min(now, end) if end is not None else now
        fires = cron.fires(schedule.cron, schedule.timezone, after, until)
        if not fires:
            return None
        fire = fires[0] if schedule.catch_up else fires[-1]
        if not schedule.catch_up and len(fires) > 1:
            log.info("scheduler: job %s skips %d missed run(s) before %s (catch_up=False)", job.name,
                     len(fires) - 1, iso(fire))
        window_start = cron.previous(schedule.cron, schedule.timezone, fire)
        claim = f"cron:{job.id}:{iso(fire)}"
        row = launch.start(self.store, job, "schedule", {}, claim=claim, window=(iso(window_start), iso(fire)),
                           require_idle=True)
        if row is None and not self.store.claimed(claim):
            return None  # the job is running: this fire time waits for the next tick
        self.store.advance_fire(job.id, iso(fire))
        if row is None:
            return None  # another scheduler claimed it
        log.info("scheduler: started execution %s of job %s for %s", row.number, job.name, iso(fire))
        return Started(job.name, row, f"cron {iso(fire)}")

    def _commits(self, schedule: ScheduleRow, job: Any, group_id: int, last: int) -> Started | None:
        new = self.store.group_commit_ids(group_id, last)
        if not new:
            return None
        own = self.store.job_commit_ids(job.id, group_id)
        newest = new[-1]
        if all(c in own for c in new):  # the job's own writes never trigger it again
            self.store.advance_trigger(job.id, group_id, newest)
            return None
        claim = f"commit:{job.id}:{group_id}:{newest}"
        row = launch.start(self.store, job, "commit", {}, claim=claim, require_idle=True)
        if row is None and not self.store.claimed(claim):
            return None
        self.store.advance_trigger(job.id, group_id, newest)
        if row is None:
            return None
        log.info("scheduler: started execution %s of job %s for commit %s of group %s", row.number, job.name,
                 newest, group_id)
        return Started(job.name, row, f"commit {newest} of group {group_id}")

    def run(self, stop: threading.Event, interval: float = DEFAULT_INTERVAL_S,
            on_start: Callable[[Started], None] | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                for started in self.tick():
                    if on_start is not None:
                        on_start(started)
            except Exception:  # noqa: BLE001 - a busy catalog or a full disk: try again next tick
                log.exception("scheduler: tick failed")
            stop.wait(interval)


class Background:
    """A scheduler running in a daemon thread of this process; ``stop()`` ends it."""

    def __init__(self, scheduler: Scheduler, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=scheduler.run, args=(self._stop, interval), name="lakebox-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop ticking and wait for a tick in progress to end (executions it started go on)."""
        self._stop.set()
        self._thread.join(timeout)


def start_in_background(project: Any, interval: float = DEFAULT_INTERVAL_S) -> Background:
    """Run a scheduler for ``project`` in a daemon thread (``lakebox serve``)."""
    from lakebox.jobs.api import job_store

    return Background(Scheduler(job_store(project)), interval)
