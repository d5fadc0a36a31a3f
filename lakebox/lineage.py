"""Provenance graphs: which assets an asset was made from (up) and what was made from it (down).

Edges are recorded by the api as work happens (a feature view reads groups, a training
dataset materialises a view at pinned commits, a model is trained on a training dataset), so
no user logs anything.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.errors import ValidationError

DIRECTIONS = ("up", "down", "both")


@dataclass
class LineageGraph:
    root: Asset
    nodes: dict[int, Asset] = field(default_factory=dict)
    edges: list[tuple[int, int, str, dict[str, Any]]] = field(default_factory=list)
    # nodes of other projects of the home (negative ids; named "project::name"): what they
    # made from this project's shared groups (lakebox.sharing.add_readers)
    projects: dict[int, str] = field(default_factory=dict)

    def upstream(self, asset_id: int | None = None) -> list[Asset]:
        """Direct sources of an asset (default: the root)."""
        target = self.root.id if asset_id is None else asset_id
        return [self.nodes[src] for src, dst, _, _ in self.edges if dst == target]

    def downstream(self, asset_id: int | None = None) -> list[Asset]:
        target = self.root.id if asset_id is None else asset_id
        return [self.nodes[dst] for src, dst, _, _ in self.edges if src == target]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root.id,
            "nodes": {i: {"kind": a.kind, "name": a.name, "version": a.version,
                          **({"project": self.projects[i]} if i in self.projects else {})}
                      for i, a in self.nodes.items()},  # fmt: skip
            "edges": [{"src": s, "dst": d, "relation": r, "details": x} for s, d, r, x in self.edges],
        }

    def tree(self) -> str:
        """The graph as indented text: sources above the root, products below."""
        lines = [self.root.label]
        self._walk(self.root.id, "up", "  ", lines, {self.root.id})
        self._walk(self.root.id, "down", "  ", lines, {self.root.id})
        return "\n".join(lines)

    def _walk(self, node: int, direction: str, indent: str, lines: list[str], seen: set[int]) -> None:
        for src, dst, relation, _ in self.edges:
            if direction == "up" and dst == node:
                other, arrow = src, "↑"
            elif direction == "down" and src == node:
                other, arrow = dst, "↓"
            else:
                continue
            lines.append(f"{indent}{arrow} {relation}: {self.nodes[other].label}")
            if other not in seen:
                self._walk(other, direction, indent + "  ", lines, seen | {other})

    def __str__(self) -> str:
        return self.tree()


def build(store: AssetStore, root: Asset, direction: str = "both", depth: int = 20,
          other_projects: bool = True) -> LineageGraph:  # fmt: skip
    """The graph around ``root``; downstream, it crosses into the projects of the same home
    that this project's groups are shared with (``other_projects``)."""
    if direction not in DIRECTIONS:
        raise ValidationError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}.")
    graph = LineageGraph(root=root, nodes={root.id: root})
    seen_edges: set[tuple[int, int, str]] = set()
    for way in ("up", "down") if direction == "both" else (direction,):
        queue: deque[tuple[int, int]] = deque([(root.id, 0)])
        visited = {root.id}
        while queue:
            node, level = queue.popleft()
            if level >= depth:
                continue
            for src, dst, relation, details in store.edges(node, way):
                other = src if way == "up" else dst
                if (src, dst, relation) not in seen_edges:
                    seen_edges.add((src, dst, relation))
                    graph.edges.append((src, dst, relation, details))
                if other not in graph.nodes:
                    graph.nodes[other] = store.by_id(other)
                if other not in visited:
                    visited.add(other)
                    queue.append((other, level + 1))
    if other_projects and direction in ("down", "both"):
        from lakebox.sharing import add_readers

        add_readers(graph, store, depth)
    return graph
