"""The import graph of a package, read with ``ast`` (nothing is imported), and its cycles.

Used by tests/unit/test_import_graph.py (no cycles, layers) and bench/architecture.py (the
figures). Every ``import`` statement counts, wherever it stands:

- ``top``: runs when the module is imported (module level, class bodies, ``try``/``if`` blocks);
- ``deferred``: inside a function, so it runs on first call; it hides a cycle from the import
  system, not from the design;
- ``type``: under ``if TYPE_CHECKING:``, never run. Left out of the cycles (it cannot fail an
  import, and naming a type is not a call), kept for the layer rules.

Relative forms are resolved (``from . import x`` is an edge to the submodule ``x`` when there
is one, else to the package), and so is ``from package import submodule``. An edge goes to the
module named, not to the packages above it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

TOP, DEFERRED, TYPE_ONLY = "top", "deferred", "type"
RUNTIME = frozenset({TOP, DEFERRED})


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # top | deferred | type
    path: Path
    line: int

    def where(self, root: Path | None = None) -> str:
        path = self.path.relative_to(root) if root is not None and self.path.is_relative_to(root) else self.path
        return f"{path}:{self.line}"


@dataclass(repr=False)
class ImportGraph:
    root: Path  # the folder the package's folder is in (shared/)
    modules: dict[str, Path]  # dotted name -> file
    edges: list[Edge]

    def __repr__(self) -> str:
        return f"<ImportGraph of {self.root}: {len(self.modules)} modules, {len(self.edges)} imports>"

    def adjacency(self, kinds: Iterable[str] = RUNTIME) -> dict[str, set[str]]:
        kinds = frozenset(kinds)
        graph: dict[str, set[str]] = {name: set() for name in self.modules}
        for edge in self.edges:
            if edge.kind in kinds:
                graph[edge.source].add(edge.target)
        return graph

    def cycles(self, kinds: Iterable[str] = RUNTIME) -> list[list[str]]:
        """Strongly connected components of more than one module."""
        return [c for c in strongly_connected(self.adjacency(kinds)) if len(c) > 1]

    def edges_between(self, component: Iterable[str], kinds: Iterable[str] = RUNTIME) -> list[Edge]:
        inside, kinds = set(component), frozenset(kinds)
        return [e for e in self.edges if e.source in inside and e.target in inside and e.kind in kinds]

    def describe(self, component: list[str], kinds: Iterable[str] = RUNTIME) -> str:
        """A component as a readable block: its modules, then every import that keeps it together."""
        lines = ["{" + ", ".join(component) + "}"]
        for e in sorted(self.edges_between(component, kinds), key=lambda e: (e.source, e.target, e.line)):
            lines.append(f"  {e.source} -> {e.target}  ({e.kind}, {e.where(self.root)})")
        return "\n".join(lines)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build(package_dir: Path) -> ImportGraph:
    """The graph of every module under ``package_dir`` (e.g. shared/tollgate), edges inside it only."""
    root = package_dir.parent
    modules = {module_name(p, root): p for p in sorted(package_dir.rglob("*.py"))}
    edges: list[Edge] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, kind in _imports(tree):
            for target in _targets(node, name, is_package, modules):
                if target != name:  # ``from . import x`` in a package resolves to itself when x is not a module
                    edges.append(Edge(name, target, kind, path, node.lineno))
    return ImportGraph(root, modules, edges)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with its kind; an enclosing function makes it deferred."""
    stack: list[tuple[ast.AST, str]] = [(tree, TOP)]
    while stack:
        node, kind = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, kind
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((child, TYPE_ONLY) for child in node.body)
            stack.extend((child, kind) for child in node.orelse)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and kind == TOP:
            kind = DEFERRED
        stack.extend((child, kind) for child in ast.iter_child_nodes(node))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a module of the graph."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {t for alias in node.names if (t := _known(alias.name, modules))}
    if node.level:
        package = importer if is_package else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    found = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in modules:
            found.add(submodule)  # from package import submodule
        elif target := _known(base, modules):
            found.add(target)
    return found


class _Tarjan:
    """Tarjan's algorithm with an explicit stack (no recursion limit)."""

    def __init__(self, graph: dict[str, set[str]]) -> None:
        self.graph = graph
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def _enter(self, node: str, work: list[tuple[str, Iterator[str]]]) -> None:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        work.append((node, iter(sorted(self.graph.get(node, ())))))

    def _leave(self, node: str) -> None:
        if self.low[node] != self.index[node]:
            return
        component = []
        while True:
            member = self.stack.pop()
            self.on_stack.discard(member)
            component.append(member)
            if member == node:
                break
        self.components.append(sorted(component))

    def visit(self, start: str) -> None:
        work: list[tuple[str, Iterator[str]]] = []
        self._enter(start, work)
        while work:
            node, successors = work[-1]
            succ = next((s for s in successors if s not in self.index or s in self.on_stack), None)
            if succ is None:  # every successor done
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node])
                self._leave(node)
            elif succ in self.index:  # on the stack: a back edge
                self.low[node] = min(self.low[node], self.index[succ])
            else:
                self._enter(succ, work)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component, each sorted, the largest first."""
    tarjan = _Tarjan(graph)
    for node in sorted(graph):
        if node not in tarjan.index:
            tarjan.visit(node)
    return sorted(tarjan.components, key=lambda c: (-len(c), c))


def layer_violations(
    graph: ImportGraph, layer: str, forbidden: Iterable[str], allowed: Iterable[str] = ()
) -> list[Edge]:
    """Imports (of any kind, type-only included) from modules of ``layer`` into ``forbidden``
    ones, except into ``allowed`` ones (e.g. the ports the adapters implement)."""
    forbidden, allowed = tuple(forbidden), tuple(allowed)

    def inside(module: str, package: str) -> bool:
        return module == package or module.startswith(package + ".")

    return [
        e
        for e in graph.edges
        if inside(e.source, layer)
        and any(inside(e.target, f) for f in forbidden)
        and not inside(e.target, layer)
        and not any(inside(e.target, a) for a in allowed)
    ]
