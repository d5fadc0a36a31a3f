"""Several projects on one server: ``lakebox serve --home DIR`` serves every box under DIR as
a project named by its directory (``shop.lakebox`` or ``shop`` -> ``shop``), under
``/api/v1/projects/{project}/...`` with the same routes as a single box. Each project keeps
its own catalog, so its own principals, keys and audit log: a key works only in the project
that issued it. ``GET /api/v1/projects`` lists the projects the presented key belongs to.

The dispatcher is plain ASGI: it strips ``/projects/{project}`` from the path and hands the
request to that project's app (a ``create_app`` of its box)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request

from lakebox.box import TOML_NAME
from lakebox.errors import AuthError, NotFoundError, ValidationError
from lakebox.names import check_name
from lakebox.server.auth import token_of
from lakebox.server.guard import error_response

_PROJECT_PATH = re.compile(r"^/api/v1/projects/([^/]+)(/.*)?$")


def project_name(folder: Path) -> str:
    """A box directory's project name: its name without a ``.lakebox`` suffix."""
    return folder.name[: -len(".lakebox")] if folder.name.endswith(".lakebox") else folder.name


def find_boxes(home: Path) -> Iterator[tuple[str, Path]]:
    """``(project, box folder)`` for every box directly under ``home``, by name."""
    if not home.is_dir():
        raise NotFoundError(f"The projects home {str(home)!r} is not a directory.")
    for folder in sorted(home.iterdir()):
        if folder.is_dir() and (folder / TOML_NAME).is_file():
            yield project_name(folder), folder


def create_box(home: Path, name: str) -> Path:
    """Create project ``name`` as the box ``home/name.lakebox``; returns its folder."""
    check_name(name, "project name")
    if any(existing == name for existing, _ in find_boxes(home)):
        from lakebox.errors import AlreadyExistsError

        raise AlreadyExistsError(f"A project named {name!r} exists under {str(home)!r}.")
    return home / f"{name}.lakebox"


class ProjectsApp:
    """Dispatches ``/api/v1/projects/{project}/rest`` to ``apps[project]`` as ``/api/v1/rest``;
    anything else goes to ``default`` (the server's own routes: health, docs)."""

    def __init__(self, apps: dict[str, Any], default: Any, verify: dict[str, Callable[[str | None], Any]]) -> None:
        self.apps = apps
        self.default = default
        self.verify = verify  # project -> KeyStore.verify of its catalog
        self.default_project: str | None = None  # serves the unprefixed /api/v1/... routes when set

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.default(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/api/v1/projects", "/api/v1/projects/"):
            await self._list(scope, receive, send)
            return
        match = _PROJECT_PATH.match(path)
        if match is None:
            if self.default_project is not None and path.startswith("/api/v1/"):
                await self.apps[self.default_project](scope, receive, send)
                return
            await self.default(scope, receive, send)
            return
        name, rest = match[1], match[2] or "/"
        app = self.apps.get(name)
        if app is None:
            await error_response(404, "not_found", f"No project {name[:100]!r}; see GET /api/v1/projects.")(scope, receive, send)
            return
        inner = "/api/v1" + rest if rest != "/" else "/api/v1"
        raw = scope.get("raw_path") or path.encode()
        prefix = f"/api/v1/projects/{name}".encode()
        raw_inner = b"/api/v1" + raw[len(prefix):] if raw.startswith(prefix) else inner.encode()
        await app({**scope, "path": inner, "raw_path": raw_inner}, receive, send)

    async def _list(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        from fastapi.responses import JSONResponse

        token = token_of(Request(scope))
        visible = []
        for name, verify in self.verify.items():
            try:
                verify(token)
            except AuthError:
                continue
            visible.append({"name": name, "url": f"/api/v1/projects/{name}"})
        if not visible and token is None:
            await error_response(401, "auth_error", "An API key is required: send 'Authorization: Bearer <key>'.")(
                scope, receive, send
            )
            return
        if not visible:
            await error_response(401, "auth_error", "The API key is not valid in any project.")(scope, receive, send)
            return
        await JSONResponse(visible)(scope, receive, send)


def build(home: Path, make_app: Callable[[Any], Any], connect: Callable[[Path], Any], default_app: Any,
          require_keys: bool) -> tuple[ProjectsApp, list[Any]]:  # fmt: skip
    """The dispatcher over every box under ``home``; returns it and the opened projects."""
    from lakebox.catalog.keys import KeyStore

    apps: dict[str, Any] = {}
    verify: dict[str, Callable[[str | None], Any]] = {}
    projects = []
    for name, folder in find_boxes(home):
        try:
            check_name(name, "project name")
        except ValidationError:
            continue  # a folder whose name cannot be a URL segment we promise: skipped
        project = connect(folder)
        projects.append(project)
        apps[name] = make_app(project)
        store = KeyStore(project.catalog)
        verify[name] = (lambda token: None) if not require_keys else store.verify
    return ProjectsApp(apps, default_app, verify), projects


def names(projects: Sequence[Any]) -> list[str]:
    return [project_name(Path(p.path)) for p in projects]


def prefixed_openapi(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """A project's OpenAPI document with its ``/api/v1/...`` paths under
    ``/api/v1/projects/{project}/...`` (and the server's own routes kept)."""
    if getattr(root, "_prefixed_schema", None) is not None:
        return root._prefixed_schema
    import copy

    document = copy.deepcopy(schema)
    parameter = {"name": "project", "in": "path", "required": True, "schema": {"type": "string"}}
    paths: dict[str, Any] = {}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            paths[path] = operations
            continue
        for operation in operations.values():
            operation["parameters"] = [parameter, *operation.get("parameters", [])]
            if "operationId" in operation:
                operation["operationId"] = "project_" + operation["operationId"]
        paths["/api/v1/projects/{project}" + path[len("/api/v1"):]] = operations
    document["paths"] = paths
    document["info"]["description"] = root.description
    root._prefixed_schema = document
    return document
