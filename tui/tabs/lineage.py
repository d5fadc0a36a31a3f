"""Lineage: what an asset was made from (↑) and what uses it (↓); enter jumps to one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Tree
from textual.widgets.tree import TreeNode

from lakebox.tui.model import Lineage, LineageNode, Ref
from lakebox.tui.widgets import KeyTree, OpenAsset, TabView


class LineageTab(TabView):
    TAB_ID = "lineage"
    TITLE = "Lineage"
    BODY = "#lineage-tree"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [("enter", "on an asset: jump to it (and keep following its lineage)")]
    DEFAULT_CSS = """
    LineageTab #lineage-tree {
        height: 1fr;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("enter on an asset jumps to it", classes="info-line")
            tree = KeyTree("lineage", id="lineage-tree")
            tree.auto_expand = False
            yield tree

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.lineage(ref)

    def show(self, lineage: Lineage) -> None:
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        tree.root.set_label(Text(lineage.root.title, "bold"))
        tree.root.data = lineage.root
        tree.root.expand()

        def add(parent: TreeNode[Any], nodes: list[LineageNode], arrow: str) -> None:
            for node in nodes:
                label = Text.assemble((f"{arrow} {node.relation} ", "dim"), node.label)
                if node.repeated:
                    label.append(" (again)", "dim")
                child = parent.add(label, data=node.ref, expand=True, allow_expand=bool(node.children))
                add(child, node.children, arrow)

        if not lineage.upstream and not lineage.downstream:
            tree.root.add_leaf(Text("no recorded lineage yet", "dim italic"))
        add(tree.root, lineage.upstream, "↑")
        add(tree.root, lineage.downstream, "↓")

    @on(Tree.NodeSelected, "#lineage-tree")
    def _chosen(self, event: Tree.NodeSelected[Any]) -> None:
        ref = event.node.data
        if isinstance(ref, Ref) and ref != self.current:
            self.post_message(OpenAsset(ref, tab="lineage"))
