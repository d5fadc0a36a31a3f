"""``lakebox.connect("http://127.0.0.1:8765", api_key=...)``: the online API over HTTP.

One keep-alive httpx client per remote project, timeouts on every call, and the server's
JSON errors turned back into the same ``LakeboxError`` subclasses the local API raises.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from lakebox import errors
from lakebox.deployments.remote import RemoteServingMixin

_BY_CODE: dict[str, type[errors.LakeboxError]] = {
    cls.code: cls
    for cls in (
        errors.NotFoundError,
        errors.AlreadyExistsError,
        errors.ValidationError,
        errors.InvalidNameError,
        errors.SchemaMismatchError,
        errors.NullKeyError,
        errors.DuplicateKeyError,
        errors.TimezoneError,
        errors.ConflictError,
        errors.StorageError,
        errors.QueryError,
        errors.AuthError,
    )
}


class RemoteProject(RemoteServingMixin):
    """A box served by ``lakebox serve``; offers feature views' online API."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        verify: bool | str | os.PathLike[str] = True,
        project: str | None = None,
    ) -> None:
        """``verify``: for ``https://`` URLs, True checks the server's certificate against the
        system's CAs, a path trusts that PEM certificate (a box's self-signed ``tls/cert.pem``),
        False checks nothing (anyone on the path could impersonate the server). ``project``: one
        project of a server started with ``lakebox serve --home DIR``."""
        from lakebox.extras import require

        httpx = require("httpx", "lakebox.connect(URL) (the remote client)")  # the serve extra
        from lakebox.server.tls import client_context

        self.url = url.rstrip("/")
        # `lakebox serve --home`: this project's routes are under /api/v1/projects/{project}
        self.project = project
        self._prefix = f"/api/v1/projects/{project}" if project else "/api/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=client_context(verify))
        self._stream_timeout = httpx.Timeout(timeout, read=max(timeout, 300.0))  # big frames take a while

    def get_feature_store(self) -> RemoteFeatureStore:
        return RemoteFeatureStore(self)

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteProject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self._translate():
            response = self._http.request(method, self._route(path), **kwargs)
        if response.status_code >= 400:
            _raise_for(response)
        return response.json()

    def _arrow(self, method: str, path: str, timeout: float | None = None,
               progress: Callable[[int, int | None], None] | None = None, **kwargs: Any) -> Any:  # fmt: skip
        """An Arrow IPC answer as a table, read batch by batch as the bytes arrive;
        ``progress(rows_so_far, total_rows)`` is called after each batch."""
        import pyarrow as pa

        schema: list[Any] = []
        batches = list(self._arrow_batches(method, path, timeout, progress, schema, **kwargs))
        return pa.Table.from_batches(batches, schema=schema[0])

    def _arrow_batches(self, method: str, path: str, timeout: float | None = None,
                       progress: Callable[[int, int | None], None] | None = None, schema: list[Any] | None = None,
                       **kwargs: Any) -> Iterator[Any]:  # fmt: skip
        """The record batches of an Arrow IPC answer, each as it arrives (memory: one batch);
        the stream's schema is appended to ``schema`` before the first."""
        import pyarrow as pa

        with self._translate(), self._http.stream(method, self._route(path), timeout=timeout or self._stream_timeout,
                                                  **kwargs) as response:  # fmt: skip
            if response.status_code >= 400:
                response.read()
                _raise_for(response)
            source = _ByteStream(response.iter_bytes(1 << 20))
            total = response.headers.get("x-rows")
            expected = int(total) if total and total.isdigit() else None
            rows = 0
            with pa.ipc.open_stream(pa.PythonFile(source, mode="r")) as reader:
                if schema is not None:
                    schema.append(reader.schema)
                for batch in reader:
                    rows += batch.num_rows
                    if progress is not None:
                        progress(rows, expected)
                    yield batch

    def _route(self, path: str) -> str:
        return self._prefix + path[len("/api/v1"):] if path.startswith("/api/v1/") else path

    @contextlib.contextmanager
    def _translate(self) -> Iterator[None]:
        import httpx

        try:
            yield
        except httpx.TimeoutException as e:
            raise errors.StorageError(f"The lakebox server at {self.url} did not answer in time.") from e
        except httpx.ConnectError as e:
            if "CERTIFICATE_VERIFY_FAILED" in str(e) or "certificate" in str(e).lower():
                raise errors.AuthError(
                    f"The TLS certificate of {self.url} is not trusted ({e}); pass verify='path/to/cert.pem' "
                    "with the server's certificate (lakebox serve prints its fingerprint)."
                ) from e
            raise errors.StorageError(f"Cannot reach the lakebox server at {self.url}: {e}") from e
        except httpx.HTTPError as e:
            raise errors.StorageError(f"Cannot reach the lakebox server at {self.url}: {e}") from e

    def __repr__(self) -> str:
        return f"RemoteProject({self.url!r})"


class RemoteFeatureStore:
    def __init__(self, project: RemoteProject) -> None:
        self._project = project

    def get_feature_view(self, name: str, version: int | None = None) -> RemoteFeatureView:
        info = self._project._request("GET", f"/api/v1/feature-views/{name}", params={"version": version} if version else None)
        return RemoteFeatureView(self._project, info)

    def get_feature_group(self, name: str, version: int | None = None) -> RemoteFeatureGroup:
        info = self._project._request("GET", f"/api/v1/feature-groups/{name}", params={"version": version} if version else None)
        return RemoteFeatureGroup(self._project, info)

    def get_features(
        self,
        features: Sequence[str],
        entity_df: Any = None,
        event_time: str | None = None,
        as_of: Any = None,
        max_age: Any = None,
        dataframe_type: str = "pandas",
    ) -> Any:
        """``fs.get_features`` on the server (needs ``read:offline``): the same frame as locally."""
        from lakebox.frames import from_arrow, to_arrow
        from lakebox.server.arrowio import MEDIA_TYPE, encode

        params: dict[str, Any] = {"feature": list(features)}
        if event_time is not None:
            params["event_time"] = event_time
        if as_of is not None:
            params["as_of"] = _time_param(as_of)
        if max_age is not None:
            params["max_age_s"] = max_age.total_seconds() if hasattr(max_age, "total_seconds") else float(max_age)
        body = encode(to_arrow(entity_df)) if entity_df is not None else b""
        table = self._project._arrow("POST", "/api/v1/features", params=params, content=body,
                                     headers={"Content-Type": MEDIA_TYPE})  # fmt: skip
        return from_arrow(table, dataframe_type)


class RemoteFeatureGroup:
    """A feature group on a server: its metadata, ``read`` (``read:offline``) and ``insert``
    (``write``), frames travelling as Arrow IPC."""

    def __init__(self, project: RemoteProject, info: dict[str, Any]) -> None:
        self._project = project
        self._info = info
        self.name: str = info["name"]
        self.version: int = info["version"]
        self.primary_key: list[str] = info["primary_key"]
        self.event_time: str | None = info["event_time"]
        self.online_enabled: bool = info["online_enabled"]
        self.description: str | None = info.get("description")
        self.features: list[dict[str, Any]] = info["features"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._info)

    def __getitem__(self, key: str) -> Any:  # the metadata dict this call returned before
        return self._info[key]

    def read(self, wallclock_time: Any = None, dataframe_type: str = "pandas", limit: int | None = None,
             offset: int = 0, progress: Callable[[int, int | None], None] | None = None) -> Any:  # fmt: skip
        """The group's rows now or as of a commit time / id, as ``fg.read`` returns them;
        ``progress(rows_so_far, total_rows)`` after each record batch received."""
        from lakebox.frames import from_arrow

        params: dict[str, Any] = {"offset": offset}
        if wallclock_time is not None:
            params["wallclock_time"] = _time_param(wallclock_time)
        if limit is not None:
            params["limit"] = limit
        table = self._project._arrow("GET", f"/api/v1/feature-groups/{self.name}/{self.version}/data", params=params,
                                     progress=progress)  # fmt: skip
        return from_arrow(table, dataframe_type)

    def read_batches(self, wallclock_time: Any = None, limit: int | None = None, offset: int = 0,
                     progress: Callable[[int, int | None], None] | None = None) -> Iterator[Any]:  # fmt: skip
        """The rows of ``read`` as Arrow record batches, each as it arrives: a client that
        handles one batch at a time holds one batch, whatever the group's size."""
        params: dict[str, Any] = {"offset": offset}
        if wallclock_time is not None:
            params["wallclock_time"] = _time_param(wallclock_time)
        if limit is not None:
            params["limit"] = limit
        yield from self._project._arrow_batches("GET", f"/api/v1/feature-groups/{self.name}/{self.version}/data",
                                                progress=progress, params=params)  # fmt: skip

    def insert(self, df: Any, part_bytes: int = 32 * 1024 * 1024) -> dict[str, Any]:
        """Insert a frame (one commit, the server validates as a local insert does); returns
        the commit. Frames over ``part_bytes`` encoded go as a chunked upload, still one commit."""
        from lakebox.frames import to_arrow
        from lakebox.server.arrowio import MEDIA_TYPE, encode

        table = to_arrow(df)
        path = f"/api/v1/feature-groups/{self.name}/{self.version}/insert"
        headers = {"Content-Type": MEDIA_TYPE}
        timeout = self._project._stream_timeout
        if table.nbytes <= part_bytes:
            return self._project._request("POST", path, content=encode(table), headers=headers, timeout=timeout)
        upload = self._project._request("POST", "/api/v1/uploads")["upload_id"]
        rows = max(1, int(table.num_rows * part_bytes / max(table.nbytes, 1)))
        for part, start in enumerate(range(0, table.num_rows, rows)):
            self._project._request("PUT", f"/api/v1/uploads/{upload}/parts/{part}",
                                   content=encode(table.slice(start, rows)), headers=headers, timeout=timeout)  # fmt: skip
        return self._project._request("POST", path, params={"upload_id": upload}, timeout=timeout)

    def __repr__(self) -> str:
        return f"RemoteFeatureGroup({self.name!r}, version={self.version})"


class RemoteFeatureView:
    def __init__(self, project: RemoteProject, info: dict[str, Any]) -> None:
        self._project = project
        self.name: str = info["name"]
        self.version: int = info["version"]
        self.labels: list[str] = info["labels"]
        self.primary_key: list[str] = info["primary_key"]

    def get_feature_vector(
        self,
        entry: Mapping[str, Any],
        passed_features: Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        request_parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        body = {"entry": dict(entry), "passed_features": dict(passed_features) if passed_features else None,
                "allow_missing": allow_missing}
        if request_parameters is not None:  # on-demand features' inputs
            body["request_parameters"] = dict(request_parameters)
        answer = self._project._request("POST", f"/api/v1/feature-views/{self.name}/{self.version}/vector", json=body)
        _restore_timestamps([answer["vector"]], answer.get("timestamps", ()))
        return _shape([answer["vector"]], answer["columns"], return_type)[0] if return_type in ("list", "dict") else _shape(
            [answer["vector"]], answer["columns"], return_type
        )

    def get_feature_vectors(
        self,
        entries: Sequence[Mapping[str, Any]],
        passed_features: Sequence[Mapping[str, Any]] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        return_status: bool = False,
        request_parameters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Any:
        body: dict[str, Any] = {
            "entries": [dict(e) for e in entries],
            "passed_features": [dict(p) for p in passed_features] if passed_features else None,
            "allow_missing": allow_missing,
        }
        if request_parameters is not None:  # on-demand features' inputs, one per entry
            body["request_parameters"] = [dict(p) for p in request_parameters]
        answer = self._project._request("POST", f"/api/v1/feature-views/{self.name}/{self.version}/vectors", json=body)
        _restore_timestamps(answer["vectors"], answer.get("timestamps", ()))
        shaped = _shape(answer["vectors"], answer["columns"], return_type)
        return (shaped, answer["statuses"]) if return_status else shaped

    def get_training_data(self, training_dataset_version: int, dataframe_type: str = "pandas") -> tuple[Any, ...]:
        """The frames ``fv.get_training_data(version)`` returns locally (``read:offline``)."""
        from lakebox.frames import from_arrow

        path = f"/api/v1/feature-views/{self.name}/{self.version}/training-data/{int(training_dataset_version)}"
        info = self._project._request("GET", path)
        return tuple(
            from_arrow(self._project._arrow("GET", f"{path}/{i}"), dataframe_type) if present else None
            for i, present in enumerate(info["present"])
        )

    def get_batch_data(self, start_time: Any = None, end_time: Any = None, dataframe_type: str = "pandas",
                       transformed: bool = True, progress: Callable[[int, int | None], None] | None = None) -> Any:  # fmt: skip
        """``fv.get_batch_data(start_time, end_time)`` on the server (``read:offline``)."""
        from lakebox.frames import from_arrow

        params: dict[str, Any] = {"transformed": transformed}
        if start_time is not None:
            params["start_time"] = _time_param(start_time)
        if end_time is not None:
            params["end_time"] = _time_param(end_time)
        table = self._project._arrow("GET", f"/api/v1/feature-views/{self.name}/{self.version}/batch-data", params=params,
                                     progress=progress)  # fmt: skip
        return from_arrow(table, dataframe_type)

    def __repr__(self) -> str:
        return f"RemoteFeatureView({self.name!r}, version={self.version})"


def _time_param(value: Any) -> str:
    """A commit id or a time as query-string text (datetimes as ISO-8601)."""
    if isinstance(value, bool):
        raise errors.ValidationError(f"Expected a time or a commit id, got {value!r}.")
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _restore_timestamps(vectors: list[list[Any]], positions: Sequence[int]) -> None:
    """Timestamps travel as ISO-8601 text; give them back their type (as a local call would)."""
    from datetime import datetime

    for vector in vectors:
        for i in positions:
            if isinstance(vector[i], str):
                vector[i] = datetime.fromisoformat(vector[i])


def _shape(vectors: list[list[Any]], columns: list[str], return_type: str) -> Any:
    if return_type == "list":
        return vectors
    if return_type == "dict":
        return [dict(zip(columns, v, strict=True)) for v in vectors]
    if return_type == "numpy":
        import numpy as np

        return np.array(vectors, dtype=object)
    import pyarrow as pa

    from lakebox.frames import from_arrow

    return from_arrow(pa.Table.from_pylist([dict(zip(columns, v, strict=True)) for v in vectors]), return_type)


def _raise_for(response: Any) -> None:
    """The server's JSON error as the LakeboxError subclass the local API would raise."""
    try:
        body = response.json()
        code, message = body.get("error", ""), body.get("message", response.text)
    except ValueError:
        code, message = "", response.text[:200]
    if response.status_code in (401, 403):
        cls: type[errors.LakeboxError] = errors.AuthError
    elif response.status_code == 404:
        cls = errors.NotFoundError
    else:
        cls = _BY_CODE.get(code, errors.StorageError if response.status_code >= 500 else errors.LakeboxError)
    raise cls(f"{message} (HTTP {response.status_code})", status=response.status_code)


class _ByteStream:
    """A readable file object over an iterator of byte chunks (for pyarrow's stream reader)."""

    closed = False

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def close(self) -> None:
        self.closed = True
