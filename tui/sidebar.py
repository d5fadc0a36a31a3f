"""The sidebar: the asset tree by kind, and the search results that replace it while searching."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.content import Content
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode

from lakebox.tui.model import KIND_TITLES, Catalog, Hit, Ref
from lakebox.tui.widgets import KeyOptions, KeyTree, Parts


class AssetTree(KeyTree):
    """Every asset of the box, by kind; rebuilding it keeps the cursor on the same asset."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__("box", id=id)
        self.show_root = False
        self.catalog: Catalog | None = None
        self.nodes: dict[str, TreeNode[Any]] = {}

    def show_catalog(self, catalog: Catalog) -> bool:
        """Draw ``catalog``; False (and nothing redrawn) when it lists what is shown already."""
        if self.catalog is not None and _labels(self.catalog) == _labels(catalog):
            self.catalog = catalog
            return False
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        collapsed = {str(n.label).split(" (")[0] for n in self.root.children if not n.is_expanded}
        first = self.catalog is None
        self.catalog = catalog
        self.clear()
        self.nodes.clear()
        for title, refs in catalog.branches():
            if refs is None:
                continue  # its listing failed (reported)
            label = Text.assemble((title, "bold"), (f" ({len(refs)})", "dim"))
            branch = self.root.add(label, expand=title not in collapsed)
            branch.allow_expand = bool(refs)
            for ref in refs:
                self.nodes[ref.key] = branch.add_leaf(ref.short, data=ref)
        if first or not isinstance(cursor, Ref) or cursor.key not in self.nodes:
            self.cursor_line = 0
        else:
            self.move_to(cursor, scroll=False)
        return True

    def move_to(self, ref: Ref, scroll: bool = True) -> bool:
        node = self.nodes.get(ref.key)
        if node is None:
            return False
        if node.parent is not None:
            node.parent.expand()
        if scroll:
            self.move_cursor(node)
        else:
            self.call_after_refresh(lambda: setattr(self, "cursor_line", node.line))
        return True


def _labels(catalog: Catalog) -> list[tuple[str, list[tuple[str, str]] | None]]:
    """What the tree shows of a catalog (Ref equality ignores the labels' notes)."""
    return [(title, [(ref.key, ref.short) for ref in refs] if refs is not None else None)
            for title, refs in catalog.branches()]


class SearchResults(KeyOptions):
    """Search hits: the asset, its kind (or the group of a feature) and the matching snippet."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hits: list[Hit] = []

    def show_hits(self, text: str, hits: list[Hit]) -> None:
        self.hits = hits
        self.clear_options()
        if not hits:
            self.add_option(Option(Content.styled(f"nothing matches {text!r}", "italic dim"), disabled=True))
        width = max(self.size.width - 3, 20)
        for i, hit in enumerate(hits):
            prompt = Parts()
            prompt.add(clip(hit.label, width), "bold")
            prompt.add("\n")
            kind = hit.context or KIND_TITLES.get(hit.kind, hit.kind)
            prompt.add(clip(kind, width), "italic dim")
            snippet = " ".join(hit.snippet.split())
            if snippet and snippet.strip("[]") != hit.label.split(" ")[0] and width - len(kind) - 3 >= 12:
                prompt.add(" · ", "dim")
                highlight(prompt, clip(snippet, width - len(kind) - 3, keep_brackets=True))
            self.add_option(Option(prompt.content(), id=str(i)))

    def hit(self, option: Option) -> Hit | None:
        return self.hits[int(option.id)] if option.id is not None else None


def clip(text: str, width: int, keep_brackets: bool = False) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (FTS5's [match] brackets take no cells)."""
    visible = len(text) - (text.count("[") + text.count("]") if keep_brackets else 0)
    if visible <= width:
        return text
    out, cells = [], 0
    for ch in text:
        if keep_brackets and ch in "[]":
            out.append(ch)
            continue
        if cells >= width - 1:
            break
        out.append(ch)
        cells += 1
    clipped = "".join(out)
    if keep_brackets and clipped.count("[") > clipped.count("]"):
        clipped += "]"
    return clipped + "…"


def highlight(parts: Parts, snippet: str) -> None:
    """FTS5 snippets mark matches with [brackets]: show them in the accent colour instead."""
    bold = False
    part = ""
    for ch in snippet:
        if ch in "[]":
            parts.add(part, "bold $accent" if bold else "dim")
            part, bold = "", ch == "["
        else:
            part += ch
    parts.add(part, "bold $accent" if bold else "dim")
