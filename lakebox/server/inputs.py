"""What the server accepts from a request, checked before any engine sees it: JSON of bounded
nesting depth, and versions that are ASCII integers in SQLite's range."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Query

from lakebox.errors import NotFoundError, ValidationError

MAX_DEPTH = 32
MAX_VERSION = 2**31 - 1
_VERSION = re.compile(r"[0-9]{1,10}")


class MalformedBodyError(ValidationError):
    """A body that is not parseable within the server's bounds (HTTP 400)."""

    http_status = 400


# A query-string version: an integer from 1 to MAX_VERSION (anything else is a 422).
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="a version; default: the latest")]


def path_version(text: str, what: str = "version") -> int:
    """A version from a URL path: ASCII digits only (``"²".isdigit()`` is true in Python), at
    least 1. Beyond ``MAX_VERSION`` no such version can exist: 404."""
    if _VERSION.fullmatch(text) is None and not (text.isascii() and text.isdigit()):
        raise ValidationError(f"The {what} in the path must be a positive integer, got {text[:40]!r}.")
    if len(text) > 10 or int(text) > MAX_VERSION:
        raise NotFoundError(f"No {what} {text[:40]}: versions are at most {MAX_VERSION}.")
    value = int(text)
    if value < 1:
        raise ValidationError(f"The {what} in the path must be a positive integer, got {text!r}.")
    return value


def parse_json(raw: bytes) -> Any:
    """Parse a request body, refusing nesting deeper than ``MAX_DEPTH`` with a 400 (Python's
    parser recurses: 50,000 levels end in RecursionError, which must not become a 500)."""
    try:
        body = json.loads(raw)
    except RecursionError as e:
        raise MalformedBodyError(f"The request body nests deeper than {MAX_DEPTH} levels.") from e
    except ValueError as e:
        raise ValidationError(f"The request body is not JSON: {e}") from e
    # Cheap pre-check: a body with few brackets cannot be deep (most vector requests).
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and depth(body) > MAX_DEPTH:
        raise MalformedBodyError(f"The request body nests deeper than {MAX_DEPTH} levels.")
    return body


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (stops past ``MAX_DEPTH``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                return deepest
        stack.extend((child, level) for child in children if isinstance(child, (dict, list)))
    return deepest
