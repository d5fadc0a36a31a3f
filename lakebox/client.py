"""``lakebox.connect("http://127.0.0.1:8765", api_key=...)``: the online API over HTTP.

One keep-alive httpx client per remote project, timeouts on every call, and the server's
JSON errors turned back into the same ``LakeboxError`` subclasses the local API raises.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
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
        self, url: str, api_key: str | None = None, timeout: float = 10.0, verify: bool | str | os.PathLike[str] = True
    ) -> None:
        """``verify``: for ``https://`` URLs, True checks the server's certificate against the
        system's CAs, a path trusts that PEM certificate (a box's self-signed ``tls/cert.pem``),
        False checks nothing (anyone on the path could impersonate the server)."""
        import httpx

        from lakebox.server.tls import client_context

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, verify=client_context(verify))

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
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
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
        if response.status_code < 400:
            return response.json()
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

    def __repr__(self) -> str:
        return f"RemoteProject({self.url!r})"


class RemoteFeatureStore:
    def __init__(self, project: RemoteProject) -> None:
        self._project = project

    def get_feature_view(self, name: str, version: int | None = None) -> RemoteFeatureView:
        info = self._project._request("GET", f"/api/v1/feature-views/{name}", params={"version": version} if version else None)
        return RemoteFeatureView(self._project, info)

    def get_feature_group(self, name: str, version: int | None = None) -> dict[str, Any]:
        return self._project._request("GET", f"/api/v1/feature-groups/{name}", params={"version": version} if version else None)


class RemoteFeatureView:
    def __init__(self, project: RemoteProject, info: dict[str, Any]) -> None:
        self._project = project
        self.name = info["name"]
        self.version = info["version"]
        self.labels = info["labels"]
        self.primary_key = info["primary_key"]

    def get_feature_vector(
        self,
        entry: Mapping[str, Any],
        passed_features: Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
    ) -> Any:
        body = {"entry": dict(entry), "passed_features": dict(passed_features) if passed_features else None,
                "allow_missing": allow_missing}
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
    ) -> Any:
        body = {
            "entries": [dict(e) for e in entries],
            "passed_features": [dict(p) for p in passed_features] if passed_features else None,
            "allow_missing": allow_missing,
        }
        answer = self._project._request("POST", f"/api/v1/feature-views/{self.name}/{self.version}/vectors", json=body)
        _restore_timestamps(answer["vectors"], answer.get("timestamps", ()))
        shaped = _shape(answer["vectors"], answer["columns"], return_type)
        return (shaped, answer["statuses"]) if return_status else shaped

    def __repr__(self) -> str:
        return f"RemoteFeatureView({self.name!r}, version={self.version})"


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
