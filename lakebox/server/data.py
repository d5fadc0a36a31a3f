"""Remote reads and writes of frames, as Arrow IPC streams (``application/vnd.apache.arrow.stream``).

* ``read:offline``: a group's rows (``fg.read``), ``get_features``, a view's training data
  (one part per element of the local tuple) and batch data;
* ``write``: ``fg.insert`` from a stream of up to ``MAX_UPLOAD_BYTES``; bigger inserts go in
  parts (``POST /api/v1/uploads``, ``PUT /api/v1/uploads/{id}/parts/{n}`` for each part,
  then ``POST .../insert?upload_id=ID``): still one commit, with the same validation.

Each route is one api call; frames go out one record batch at a time, as the api makes them
(``fg.read_batches``, ``fs.get_features_batches``, ``fv.get_batch_data_batches``,
``fv.get_training_data_batches``: DuckDB's or Parquet's batches), so the server never holds a
whole frame. ``X-Rows`` is sent when the row count is known before the first batch (an entity
frame's rows, a training dataset file's rows).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import weakref
from pathlib import Path as FilePath
from typing import Annotated, Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Path, Query
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from lakebox.catalog.audit import AuditLog
from lakebox.errors import NotFoundError, ValidationError
from lakebox.project import Project
from lakebox.server.arrowio import MEDIA_TYPE, decode, stream_reader, stream_table
from lakebox.server.auth import Authorizer
from lakebox.server.inputs import MAX_VERSION
from lakebox.server.schemas import CommitInfo, TrainingDataInfo, UploadInfo, error_responses

MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_PARTS = 10_000
UPLOAD_PATHS = ("/insert", "/parts/", "/features")  # bodies of these routes (frames) may reach MAX_UPLOAD_BYTES
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]
Time = Annotated[str | None, Query(max_length=64, description="a commit time (ISO-8601) or commit id")]
ARROW: dict[int | str, dict[str, Any]] = {200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
               "description": "an Arrow IPC stream"}}  # fmt: skip
ERRORS = error_responses(400, 401, 403, 404, 413, 422)


def add_data_routes(app: FastAPI, project: Project, auth: Authorizer) -> None:
    store = project.get_feature_store()
    offline = [Depends(auth.dependency("read:offline"))]
    uploads = Uploads()
    audit = AuditLog(project.catalog)

    def arrow(table: pa.Table) -> StreamingResponse:
        return StreamingResponse(stream_table(table), media_type=MEDIA_TYPE, headers={"X-Rows": str(table.num_rows)})

    def batches(reader: pa.RecordBatchReader, rows: int | None = None) -> StreamingResponse:
        headers = {"X-Rows": str(rows)} if rows is not None else {}
        return StreamingResponse(stream_reader(reader), media_type=MEDIA_TYPE, headers=headers)

    @app.get("/api/v1/feature-groups/{name}/{version}/data", tags=["data"], dependencies=offline,
             response_class=StreamingResponse, responses={**ARROW, **ERRORS})  # fmt: skip
    def read_group(name: str, version: Version, wallclock_time: Time = None,
                   limit: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                   offset: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Response:  # fmt: skip
        """The group's rows now, or as of a commit time or id (``fg.read``)."""
        group = store.get_feature_group(name, version)
        when = _time(wallclock_time)
        rows = group.read_row_count(when, limit=limit, offset=offset)
        return batches(group.read_batches(wallclock_time=when, limit=limit, offset=offset), rows)

    @app.post("/api/v1/features", tags=["data"], dependencies=offline, response_class=StreamingResponse,
              responses={**ARROW, **ERRORS})  # fmt: skip
    async def get_features(
        request: Request,
        feature: Annotated[list[str], Query(min_length=1, max_length=10_000, description="a feature name (repeat)")],
        event_time: Annotated[str | None, Query(max_length=200)] = None,
        as_of: Time = None,
        max_age_s: Annotated[float | None, Query(ge=0, le=1e12, description="max age in seconds")] = None,
    ) -> Response:
        """``fs.get_features``; the body, if any, is the entity frame as an Arrow IPC stream."""
        body = await request.body()
        entity = decode(body) if body else None
        import datetime as dt

        max_age = dt.timedelta(seconds=max_age_s) if max_age_s is not None else None
        from starlette.concurrency import run_in_threadpool

        reader = await run_in_threadpool(
            store.get_features_batches, feature, entity_df=entity, event_time=event_time, as_of=_time(as_of),
            max_age=max_age,
        )  # fmt: skip
        return batches(reader, entity.num_rows if entity is not None else None)

    @app.get("/api/v1/feature-views/{name}/{version}/training-data/{training_dataset_version}", tags=["data"],
             dependencies=offline, response_model=TrainingDataInfo, responses=ERRORS)  # fmt: skip
    def training_data_info(name: str, version: Version, training_dataset_version: Version) -> dict[str, Any]:
        """How many frames ``fv.get_training_data(v)`` returns, and which are None."""
        present = store.get_feature_view(name, version).get_training_data_frames(training_dataset_version)
        return {"parts": len(present), "present": present}

    @app.get("/api/v1/feature-views/{name}/{version}/training-data/{training_dataset_version}/{part}",
             tags=["data"], dependencies=offline, response_class=StreamingResponse, responses={**ARROW, **ERRORS})  # fmt: skip
    def training_data_part(name: str, version: Version, training_dataset_version: Version,
                           part: Annotated[int, Path(ge=0, le=16)]) -> Response:  # fmt: skip
        """Frame ``part`` of ``fv.get_training_data(v)`` (X, y, X_test, ... in the local order)."""
        view = store.get_feature_view(name, version)
        reader = view.get_training_data_batches(training_dataset_version, part)
        if reader is None:
            raise NotFoundError(f"Training dataset {training_dataset_version} has no frame {part}.")
        return batches(reader)

    @app.get("/api/v1/feature-views/{name}/{version}/batch-data", tags=["data"], dependencies=offline,
             response_class=StreamingResponse, responses={**ARROW, **ERRORS})  # fmt: skip
    def batch_data(name: str, version: Version, start_time: Time = None, end_time: Time = None,
                   transformed: bool = True) -> Response:  # fmt: skip
        """``fv.get_batch_data(start_time, end_time)``."""
        view = store.get_feature_view(name, version)
        return batches(view.get_batch_data_batches(start_time=_time(start_time), end_time=_time(end_time),
                                                   transformed=transformed))  # fmt: skip

    @app.post("/api/v1/feature-groups/{name}/{version}/insert", tags=["data"], response_model=CommitInfo,
              responses=ERRORS)  # fmt: skip
    async def insert(request: Request, name: str, version: Version,
                     upload_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:  # fmt: skip
        """``fg.insert``: the body is the frame (Arrow IPC), or empty with ``upload_id``."""
        key = auth.check(request, "write")
        body = await request.body()
        from starlette.concurrency import run_in_threadpool

        def run() -> dict[str, Any]:
            table = uploads.take(upload_id) if upload_id else decode(body)
            group = store.get_feature_group(name, version)
            commit = group.insert(table)
            if commit is None:
                return {"commit_id": None, "rows_inserted": 0, "rows_updated": 0, "rows_deleted": 0, "committed_on": None}
            if key is not None:
                audit.set_principal(f"feature_group:{group.name}:{group.version}", commit.commit_id, key.principal or key.name)
            return {"commit_id": commit.commit_id, "rows_inserted": commit.rows_inserted,
                    "rows_updated": commit.rows_updated, "rows_deleted": commit.rows_deleted,
                    "committed_on": commit.committed_on.isoformat()}  # fmt: skip

        return await run_in_threadpool(run)

    @app.post("/api/v1/uploads", tags=["data"], response_model=UploadInfo, responses=ERRORS)
    async def start_upload(request: Request) -> dict[str, Any]:
        """Start a chunked upload for an insert bigger than one request may be."""
        auth.check(request, "write")
        return {"upload_id": uploads.start(), "max_part_bytes": MAX_UPLOAD_BYTES}

    @app.put("/api/v1/uploads/{upload_id}/parts/{part}", tags=["data"], response_model=UploadInfo, responses=ERRORS)
    async def upload_part(request: Request, upload_id: Annotated[str, Path(max_length=64)],
                          part: Annotated[int, Path(ge=0, lt=MAX_PARTS)]) -> dict[str, Any]:  # fmt: skip
        """Part ``part`` (0, 1, ...) of an upload: an Arrow IPC stream of some of the rows."""
        auth.check(request, "write")
        uploads.put(upload_id, part, await request.body())
        return {"upload_id": upload_id, "max_part_bytes": MAX_UPLOAD_BYTES}


def _time(text: str | None) -> Any:
    """A commit id (digits) or a time as the api takes it."""
    if text is not None and text.isascii() and text.isdigit():
        return int(text)
    return text


class Uploads:
    """Parts of chunked uploads, kept in a temporary folder until the insert takes them."""

    def __init__(self) -> None:
        self.root = FilePath(tempfile.mkdtemp(prefix="lakebox-uploads-"))
        weakref.finalize(self, shutil.rmtree, self.root, True)  # parts never inserted go with the app
        self._lock = threading.Lock()
        self._open: set[str] = set()

    def start(self) -> str:
        upload_id = secrets.token_hex(16)
        (self.root / upload_id).mkdir()
        with self._lock:
            self._open.add(upload_id)
        return upload_id

    def _folder(self, upload_id: str) -> FilePath:
        with self._lock:
            if upload_id not in self._open:
                raise NotFoundError(f"No open upload {upload_id[:64]!r}; start one with POST /api/v1/uploads.")
        return self.root / upload_id

    def put(self, upload_id: str, part: int, data: bytes) -> None:
        decode(data)  # refuse a part that is not a stream now, not at insert time
        (self._folder(upload_id) / f"{part:05d}.arrows").write_bytes(data)

    def take(self, upload_id: str) -> pa.Table:
        folder = self._folder(upload_id)
        with self._lock:
            self._open.discard(upload_id)
        try:
            files = sorted(folder.glob("*.arrows"))
            if not files:
                raise ValidationError(f"Upload {upload_id!r} has no parts.")
            tables = [decode(f.read_bytes()) for f in files]
            try:
                return pa.concat_tables(tables)
            except pa.ArrowInvalid as e:
                raise ValidationError(f"The parts of upload {upload_id!r} have different schemas: {e}") from e
        finally:
            shutil.rmtree(folder, ignore_errors=True)
