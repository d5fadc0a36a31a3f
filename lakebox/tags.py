"""Tags and custom metadata on every asset: ``add_tag(key, value)``, ``get_tags()``, ``delete_tag(key)``."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.errors import ValidationError

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValidationError(
            f"Tag key {key!r} must be 1-100 characters of letters, digits, '_', '.', ':' or '-'."
        )
    return key


class Taggable(ABC):
    """Base of api objects that are catalog assets: their row's identity, and tags.

    Subclasses keep their catalog row in ``self._row`` (``id``, ``name``, ``version``,
    ``description``), name their asset kind in ``_asset_kind`` and give the ``AssetStore``.
    """

    _row: Any
    _asset_kind: ClassVar[str]

    @property
    def id(self) -> int:
        return int(self._row.id)

    @property
    def name(self) -> str:
        return str(self._row.name)

    @property
    def version(self) -> int:
        return int(self._row.version)

    @property
    def description(self) -> str:
        return str(self._row.description)

    @abstractmethod
    def _assets(self) -> AssetStore:
        """The catalog's asset store this object belongs to."""

    def _asset(self) -> Asset:
        return self._assets().get(self._asset_kind, self.id)

    def add_tag(self, key: str, value: Any) -> None:
        """Tag the asset; ``value`` may be any JSON value (string, number, list, object)."""
        self._assets().set_tag(self._asset().id, check_key(key), value)

    def get_tags(self) -> dict[str, Any]:
        return self._assets().tags(self._asset().id)

    def get_tag(self, key: str) -> Any:
        tags = self.get_tags()
        if key not in tags:
            from lakebox.errors import NotFoundError

            raise NotFoundError(f"No tag {key!r}; tags are {sorted(tags)}.")
        return tags[key]

    def delete_tag(self, key: str) -> None:
        self._assets().delete_tag(self._asset().id, check_key(key))
