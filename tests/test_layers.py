"""The house's layers, kept by CI: engines never import the api objects or the interfaces,
and lakebox's modules import each other without cycles (DESIGN §2).

Every import of every module under ``lakebox/`` is read with ``ast`` — module level, inside
functions, and under ``TYPE_CHECKING`` alike — so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "lakebox"

ENGINES = ("catalog", "offline", "online", "query", "training", "write", "ops", "stats", "sources", "experiment")
API = (
    "feature_group", "group_history", "group_quality", "feature_store", "feature_view", "view_serving", "project",
    "model_registry", "experiments",
    "queries", "lineage", "engines",
    "deployments", "monitors",
    "external_group", "ondemand",
    "jobs",
    "view_training", "view_logging", "hsfs_compat", "hsfs_store", "group_compat", "files_api",
    "security", "sharing", "metadata", "streams", "listings",
)
INTERFACES = ("cli", "server", "tui", "client", "testing")
# Pending edges, each named with what removes it (nothing else may be added here).
# Engine -> api edges still allowed, each with the reason and the way out (none today).
PENDING: dict[tuple[str, str], str] = {}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, bool]]:
    """(imported lakebox module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    for statement in tree.body:  # imports under a module-level ``if TYPE_CHECKING:`` / try
        if isinstance(statement, (ast.If, ast.Try)):
            top_level.update(id(n) for n in ast.walk(statement) if isinstance(n, (ast.Import, ast.ImportFrom)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from lakebox import expect`` imports the module lakebox.expect
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target.startswith("lakebox") and target != name:
                yield target, id(node) in top_level and not _type_checking_only(tree, node)


def _type_checking_only(tree: ast.Module, node: ast.AST) -> bool:
    for statement in tree.body:
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            if any(n is node for n in ast.walk(statement)):
                return True
    return False


def _edges() -> dict[str, dict[str, bool]]:
    modules = _modules()
    edges: dict[str, dict[str, bool]] = {}
    for name, path in modules.items():
        found = edges.setdefault(name, {})
        for target, module_level in _imports(name, path, modules):
            found[target] = found.get(target, False) or module_level
    return edges


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == f"lakebox.{p}" or module.startswith(f"lakebox.{p}.") for p in packages)


def test_engines_never_import_api_objects_or_interfaces() -> None:
    bad = []
    for source, targets in _edges().items():
        if not _in(source, ENGINES):
            continue
        for target in targets:
            if (_in(target, API) or _in(target, INTERFACES)) and (source, target) not in PENDING:
                bad.append(f"{source} -> {target}")
    assert not bad, "engine modules import api objects or interfaces:\n" + "\n".join(sorted(bad))


def test_pending_edges_still_exist() -> None:
    """An exception that no longer applies is removed, so the list cannot silently grow stale."""
    edges = _edges()
    stale = [f"{s} -> {t}: {why}" for (s, t), why in PENDING.items() if t not in edges.get(s, {})]
    assert not stale, "remove these from PENDING:\n" + "\n".join(stale)


def _cycles(edges: dict[str, dict[str, bool]], module_level_only: bool) -> list[list[str]]:
    graph = {s: [t for t, top in targets.items() if top or not module_level_only] for s, targets in edges.items()}
    # Tarjan's strongly connected components: every component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _is_package_of(parent: str, child: str) -> bool:
    return child.startswith(parent + ".")


def test_no_import_cycles_at_module_level() -> None:
    edges = _edges()
    # A package's __init__ importing its own submodules is not a cycle of design.
    for source in edges:
        edges[source] = {t: top for t, top in edges[source].items() if not _is_package_of(source, t)}
    cycles = _cycles(edges, module_level_only=True)
    assert not cycles, "import cycles among lakebox modules:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_function_level_import_cycles_are_reported() -> None:
    """Lazy (function-level) imports may still close loops at run time (today: the api objects
    among themselves, and offline.table <-> offline.maintenance). They are allowed, but never
    through an engine and the api layer together (but for the PENDING alias)."""
    edges = _edges()
    for source in edges:
        edges[source] = {t: top for t, top in edges[source].items() if not _is_package_of(source, t)}
    pending = {s for s, _ in PENDING}
    bad = []
    for cycle in _cycles(edges, module_level_only=False):
        engines = [m for m in cycle if _in(m, ENGINES) and m not in pending]
        api = [m for m in cycle if _in(m, API) or _in(m, INTERFACES)]
        print("function-level import cycle:", " <-> ".join(cycle))
        if engines and api:
            bad.append(cycle)
    assert not bad, f"lazy-import cycles through engines and api modules: {bad}"
