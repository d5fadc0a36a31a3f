"""Assets of a box: full-text search, tags and lineage over every kind of asset.

The ``assets`` table and its FTS5 index are maintained by triggers (migration 004). User
search text never reaches FTS5 syntax: it is cut into word tokens, each quoted as a prefix
term, so quotes, ``NEAR(``, ``*``, ``OR`` or 5,000 characters are just words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakebox import jsonpolicy
from lakebox.catalog.db import CatalogDB
from lakebox.errors import NotFoundError, QueryError, ValidationError

KINDS = ("feature_group", "feature", "feature_view", "training_dataset", "model", "experiment",
         "deployment", "monitor", "job")
MAX_TOKENS = 16
_TOKEN = re.compile(r"\w+", re.UNICODE)
# bm25 weights per column: name, description, keywords (feature names, labels), tags
_WEIGHTS = (10.0, 2.0, 4.0, 3.0)

# Fixed SQL; every value (weights, query, filters) is a bound parameter.
# A NULL filter parameter switches its clause off before any JSON is read.
_FILTER = (
    " AND (? IS NULL OR a.kind IN (SELECT value FROM json_each(?)))"
    " AND (? IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?) AS want WHERE NOT EXISTS ("
    "SELECT 1 FROM asset_tags AS t WHERE t.asset_id = a.id AND t.key = json_extract(want.value, '$[0]')"
    " AND (json_array_length(want.value) = 1 OR t.value = json_extract(want.value, '$[1]')))))"
)
_SEARCH = (
    "SELECT a.*, bm25(asset_search, ?, ?, ?, ?) AS rank, snippet(asset_search, -1, '[', ']', '…', 12) AS snip"
    " FROM asset_search JOIN assets AS a ON a.id = asset_search.rowid WHERE asset_search MATCH ?"
    + _FILTER
    + " ORDER BY rank, a.kind, a.name, a.version LIMIT ?"
)
_BY_TAGS = "SELECT a.* FROM assets AS a WHERE 1 = 1" + _FILTER + " ORDER BY a.kind, a.name, a.version LIMIT ?"
_TAGS_OF = "SELECT asset_id, key, value FROM asset_tags WHERE asset_id IN (SELECT value FROM json_each(?)) ORDER BY key"
_EDGES_INTO = "SELECT src, dst, relation, details FROM lineage WHERE dst = ? ORDER BY src, dst"
_EDGES_OUT_OF = "SELECT src, dst, relation, details FROM lineage WHERE src = ? ORDER BY src, dst"


@dataclass(frozen=True)
class Asset:
    id: int
    kind: str
    name: str
    version: int | None
    parent: str | None
    description: str
    ref_id: int

    @property
    def label(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        if self.kind == "shared_feature_group":  # another project's group: "shop::orders v1"
            return f"feature_group {self.name}{version} (shared by project {self.parent})"
        where = f" ({self.parent})" if self.parent and self.kind == "feature" else ""
        return f"{self.kind} {self.name}{version}{where}"


@dataclass(frozen=True)
class SearchHit:
    kind: str
    name: str
    version: int | None
    score: float
    snippet: str
    parent: str | None = None
    description: str = ""
    tags: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "parent": self.parent,
            "score": self.score,
            "snippet": self.snippet,
            "description": self.description,
            "tags": self.tags,
        }


def fts_query(text: str, join: str = " ") -> str | None:
    """An FTS5 query for user text: each word a quoted prefix term (no FTS5 syntax gets through)."""
    tokens = [t.lower() for t in _TOKEN.findall(text)][:MAX_TOKENS]
    if not tokens:
        return None
    return join.join(f'"{t}"*' for t in tokens)


class AssetStore:
    def __init__(self, db: CatalogDB) -> None:
        self.db = db

    # -- finding ------------------------------------------------------------------------
    def get(self, kind: str, ref_id: int, name: str | None = None) -> Asset:
        if name is None:
            rows = self.db.query("SELECT * FROM assets WHERE kind = ? AND ref_id = ?", (kind, ref_id))
        else:
            rows = self.db.query("SELECT * FROM assets WHERE kind = ? AND ref_id = ? AND name = ?", (kind, ref_id, name))
        if not rows:
            raise NotFoundError(f"No {kind} asset with id {ref_id}; it was deleted.")
        return _asset(rows[0])

    def by_id(self, asset_id: int) -> Asset:
        rows = self.db.query("SELECT * FROM assets WHERE id = ?", (asset_id,))
        if not rows:
            raise NotFoundError(f"No asset with id {asset_id}.")
        return _asset(rows[0])

    def find(self, name: str, version: int | None = None, kind: str | None = None) -> Asset:
        """The asset called ``name`` (latest version unless given); errors list the candidates."""
        sql = "SELECT * FROM assets WHERE name = ? AND kind != 'feature'"
        params: list[Any] = [name]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        rows = [_asset(r) for r in self.db.query(sql + " ORDER BY kind, version", tuple(params))]
        if not rows:
            raise NotFoundError(f"No asset named {name!r}" + (f" of kind {kind}" if kind else "") + ".")
        kinds = sorted({r.kind for r in rows})
        if len(kinds) > 1:
            raise QueryError(f"{name!r} names several kinds of asset {kinds}; pass kind=... to pick one.")
        return rows[-1]

    # -- tags ---------------------------------------------------------------------------
    def set_tag(self, asset_id: int, key: str, value: Any) -> None:
        try:
            encoded = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"Tag {key!r}: the value must be JSON-serialisable ({e}).") from e
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO asset_tags (asset_id, key, value) VALUES (?,?,?)"
                " ON CONFLICT (asset_id, key) DO UPDATE SET value = excluded.value",
                (asset_id, key, encoded),
            )

    def tags(self, asset_id: int) -> dict[str, Any]:
        rows = self.db.query("SELECT key, value FROM asset_tags WHERE asset_id = ? ORDER BY key", (asset_id,))
        return {r["key"]: json.loads(r["value"]) for r in rows}

    def delete_tag(self, asset_id: int, key: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute("DELETE FROM asset_tags WHERE asset_id = ? AND key = ?", (asset_id, key))
            if cursor.rowcount == 0:
                raise NotFoundError(f"No tag {key!r} on this asset.")

    def set_keywords(self, asset_id: int, keywords: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE assets SET keywords = ? WHERE id = ?", (keywords, asset_id))

    def add(self, kind: str, name: str, version: int | None, ref_id: int, description: str = "",
            keywords: str = "", parent: str | None = None) -> int:
        """Register an asset that no trigger knows (models, experiments)."""
        with self.db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO assets (kind, name, version, parent, description, keywords, ref_id) VALUES (?,?,?,?,?,?,?)",
                (kind, name, version, parent, description, keywords, ref_id),
            )
            return int(cursor.lastrowid or 0)

    def remove(self, kind: str, ref_id: int) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM assets WHERE kind = ? AND ref_id = ?", (kind, ref_id))

    # -- search -------------------------------------------------------------------------
    def search(
        self,
        text: str,
        kind: str | Sequence[str] | None = None,
        tags: Mapping[str, Any] | Sequence[str] | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        if not isinstance(text, str):
            raise ValidationError(f"Search text must be a string, got {type(text).__name__}.")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise ValidationError("limit must be an integer between 1 and 1000.")
        if kind is not None and not isinstance(kind, (str, list, tuple)):
            raise ValidationError(f"kind must be a string or a list of strings, got {kind!r}.")
        if isinstance(tags, str):
            tags = [tags]  # one tag key
        if tags is not None and not isinstance(tags, (Mapping, list, tuple)):
            raise ValidationError(f"tags must be a {{key: value}} mapping or a list of keys, got {tags!r}.")
        kinds = [kind] if isinstance(kind, str) else list(kind or [])
        for k in kinds:
            if k not in KINDS:
                raise ValidationError(f"Unknown asset kind {k!r}; choose from {list(KINDS)}.")
        query = fts_query(text)
        if query is None and not tags:
            raise ValidationError("Search for at least one word (letters or digits), or filter by tags=.")
        hits = self._run(query, kinds, tags, limit) if query else self._by_tags(kinds, tags, limit)
        if not hits and query and " " in query:
            hits = self._run(fts_query(text, " OR "), kinds, tags, limit)  # no asset has every word
        return hits

    def _filter_params(self, kinds: list[str], tags: Mapping[str, Any] | Sequence[str] | None) -> tuple[Any, ...]:
        """Parameters of ``_FILTER``: the kinds (JSON list or NULL) and the wanted tags as JSON
        ``[[key], [key, json value], ...]`` (a key alone matches any value)."""
        if isinstance(tags, Mapping):
            wanted = [[key, json.dumps(value, sort_keys=True)] for key, value in tags.items()]
        else:
            wanted = [[key] for key in tags or []]
        kinds_json = json.dumps(kinds) if kinds else None
        wanted_json = json.dumps(wanted) if wanted else None
        return kinds_json, kinds_json, wanted_json, wanted_json

    def _run(self, query: str | None, kinds: list[str], tags: Any, limit: int) -> list[SearchHit]:
        rows = self.db.query(_SEARCH, (*_WEIGHTS, query, *self._filter_params(kinds, tags), limit))
        return self._hits(rows, [(-float(r["rank"]), r["snip"]) for r in rows])

    def _by_tags(self, kinds: list[str], tags: Any, limit: int) -> list[SearchHit]:
        rows = self.db.query(_BY_TAGS, (*self._filter_params(kinds, tags), limit))
        return self._hits(rows, [(0.0, r["description"]) for r in rows])

    def _hits(self, rows: Sequence[Any], scored: Sequence[tuple[float, str]]) -> list[SearchHit]:
        """Hits with their tags (one query for all hits, not one per hit)."""
        tags: dict[int, dict[str, Any]] = {}
        if rows:
            for t in self.db.query(_TAGS_OF, (json.dumps([r["id"] for r in rows]),)):
                tags.setdefault(t["asset_id"], {})[t["key"]] = json.loads(t["value"])
        return [
            SearchHit(
                kind=row["kind"],
                name=row["name"],
                version=row["version"],
                score=score,
                snippet=snippet or "",
                parent=row["parent"],
                description=row["description"],
                tags=tags.get(row["id"], {}),
            )
            for row, (score, snippet) in zip(rows, scored, strict=True)
        ]

    # -- lineage ------------------------------------------------------------------------
    def link(self, src: int, dst: int, relation: str, details: Mapping[str, Any] | None = None) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO lineage (src, dst, relation, details) VALUES (?,?,?,?)"
                " ON CONFLICT (src, dst, relation) DO UPDATE SET details = excluded.details",
                (src, dst, relation, jsonpolicy.dumps(dict(details or {}))),
            )

    def downstream_of(self, asset_id: int, relation: str) -> list[Asset]:
        rows = self.db.query(
            "SELECT a.* FROM lineage AS l JOIN assets AS a ON a.id = l.dst WHERE l.src = ? AND l.relation = ?",
            (asset_id, relation),
        )
        return [_asset(r) for r in rows]

    def edges(self, asset_id: int, direction: str) -> list[tuple[int, int, str, dict[str, Any]]]:
        """Edges into (``up``) or out of (``down``) an asset."""
        sql = _EDGES_INTO if direction == "up" else _EDGES_OUT_OF
        rows = self.db.query(sql, (asset_id,))
        return [(r["src"], r["dst"], r["relation"], json.loads(r["details"])) for r in rows]


def _asset(row: Any) -> Asset:
    return Asset(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        version=row["version"],
        parent=row["parent"],
        description=row["description"],
        ref_id=row["ref_id"],
    )


def unique(items: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
