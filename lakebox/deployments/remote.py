"""Deployments over HTTP: ``remote.get_model_serving().get_deployment(name).predict(...)``.

A mixin of the remote project (``lakebox.connect("http://...", api_key=...)``); it speaks
to the routes of ``lakebox/server/deployments.py`` and turns their JSON errors back into the
same ``LakeboxError`` classes the local API raises (``PredictorError`` included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote

from lakebox import errors


def _classes() -> dict[str, type[errors.LakeboxError]]:
    from lakebox.deployments.predictors import PredictorError

    found: dict[str, type[errors.LakeboxError]] = {}
    pending: list[type[errors.LakeboxError]] = [errors.LakeboxError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    found[PredictorError.code] = PredictorError
    return found


class RemoteServingMixin:
    """``get_model_serving()`` on ``RemoteProject``."""

    url: str
    _http: Any

    def get_model_serving(self) -> RemoteModelServing:
        return RemoteModelServing(self)

    def _deployment_call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as e:
            raise errors.StorageError(f"The lakebox server at {self.url} did not answer in time.") from e
        except httpx.HTTPError as e:
            raise errors.StorageError(f"Cannot reach the lakebox server at {self.url}: {e}") from e
        if response.status_code < 400:
            return response.json()
        try:
            body = response.json()
            code, message, details = body.get("error", ""), body.get("message", response.text), body.get("details") or {}
        except ValueError:
            code, message, details = "", response.text[:200], {}
        if response.status_code in (401, 403):
            cls: type[errors.LakeboxError] = errors.AuthError
        else:
            cls = _classes().get(code, errors.StorageError if response.status_code >= 500 else errors.LakeboxError)
        raise cls(f"{message} (HTTP {response.status_code})", status=response.status_code, **{
            k: v for k, v in details.items() if k not in ("status", "report", "commit")})


class RemoteModelServing:
    def __init__(self, project: RemoteServingMixin) -> None:
        self._project = project

    def get_deployment(self, name: str) -> RemoteDeployment:
        info = self._project._deployment_call("GET", f"/api/v1/deployments/{quote(name, safe='')}")
        return RemoteDeployment(self._project, info)

    def get_deployments(self) -> list[RemoteDeployment]:
        return [RemoteDeployment(self._project, info) for info in self._project._deployment_call("GET", "/api/v1/deployments")]


class RemoteDeployment:
    """A deployment of a served box; ``predict`` answers as ``Deployment.predict`` does."""

    def __init__(self, project: RemoteServingMixin, info: dict[str, Any]) -> None:
        self._project = project
        self.info = info
        self.name: str = info["name"]
        self.model_name: str = info["model_name"]
        self.serving_keys: list[str] = info["serving_keys"]

    def predict(
        self,
        entries: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        passed_features: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        allow_missing: bool = False,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"allow_missing": allow_missing}
        if isinstance(entries, Mapping):
            body["entry"] = dict(entries)
            if passed_features:
                body["passed_features"] = dict(cast(Mapping[str, Any], passed_features))  # one entry, one mapping
        else:
            body["entries"] = [dict(e) for e in entries]
            if passed_features is not None:
                body["passed_features"] = [dict(p) for p in cast(Sequence[Mapping[str, Any]], passed_features)]
        path = f"/api/v1/deployments/{quote(self.name, safe='')}/predict"
        return dict(self._project._deployment_call("POST", path, json=body))

    def __repr__(self) -> str:
        return f"RemoteDeployment({self.name!r}, model={self.model_name!r})"
