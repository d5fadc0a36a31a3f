"""Which commits an execution made, and the lineage they give its job.

Every Iceberg snapshot lakebox writes records the writing process's pid
(``lakebox.writer-pid`` in its summary, see ``lakebox.offline.table``). An execution's
function runs alone in its worker process, so the commits of the execution are the commits
logged while the worker lived whose snapshot names the worker's pid: no cooperation from the
job's code, and commits made at the same time by other processes are never counted. A
snapshot that names the execution itself (``lakebox.execution-id``, from the
``$LAKEBOX_EXECUTION_ID`` the worker and its child processes inherit, where the write path
records it) counts too, whichever process of the execution wrote it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from lakebox.catalog.assets import AssetStore
from lakebox.errors import LakeboxError, NotFoundError
from lakebox.jobs.store import CommitRef, JobStore

log = logging.getLogger(__name__)

SLACK_MS = 2_000  # clock granularity between the commit log and this process's clock
WRITER_PID = "lakebox.writer-pid"
EXECUTION_ID = "lakebox.execution-id"


def made_by(store: JobStore, box_root: Path, pid: int, start: datetime, end: datetime,
            execution_id: int | None = None) -> list[CommitRef]:
    """Commits of any group logged between ``start`` and ``end`` whose writer was ``pid`` (or
    whose snapshot names ``execution_id``)."""
    candidates = store.commits_between(int(start.timestamp() * 1000) - SLACK_MS, int(end.timestamp() * 1000) + SLACK_MS)
    if not candidates:
        return []
    from lakebox.box import Box
    from lakebox.offline.warehouse import Warehouse

    box = Box.open(box_root, create=False)
    warehouse = Warehouse(box.warehouse, box.warehouse_origin, box_id=box.box_id)
    found: list[CommitRef] = []
    tables: dict[str, object] = {}
    try:
        for row in candidates:
            table = tables.get(row["table_name"])
            if table is None:
                try:
                    table = tables[row["table_name"]] = warehouse.load(row["table_name"])
                except NotFoundError:
                    continue  # the group was dropped meanwhile
            snapshot = table.snapshot_by_id(row["snapshot_id"])  # type: ignore[attr-defined]
            summary = snapshot.summary if snapshot is not None else None
            if summary is not None and (summary[WRITER_PID] == str(pid) or (
                    execution_id is not None and summary[EXECUTION_ID] == str(execution_id))):
                found.append(CommitRef(row["group_id"], row["name"], row["version"], row["commit_id"]))
    finally:
        warehouse.close()
    return found


def link_lineage(assets: AssetStore, job_id: int, commits: list[CommitRef], execution_number: int) -> None:
    """The job ``writes`` each group it committed to (details: the last execution that did)."""
    if not commits:
        return
    try:
        job_asset = assets.get("job", job_id)
    except LakeboxError:
        return
    for group_id in sorted({c.group_id for c in commits}):
        try:
            group_asset = assets.get("feature_group", group_id)
        except NotFoundError:
            continue
        ids = [c.commit_id for c in commits if c.group_id == group_id]
        assets.link(job_asset.id, group_asset.id, "writes", {"execution": execution_number, "commits": ids})
