"""The import graph of shared/tollgate, read with ast: no cycle (deferred imports included), and
the inner layers import nothing from the outer ones. See tests/import_graph.py for what counts."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.import_graph import ImportGraph, build, layer_violations

PACKAGE = ROOT / "shared" / "tollgate"

# layer -> (what it may not import, the exceptions). Type-only imports count: a type names a
# dependency too. Adapters implement the services' ports, so they may import those (and only
# those); nothing but the functions imports the composition root.
OUTER = ("tollgate.wiring", "tollgate.api")
LAYERS = {
    "tollgate.domain": (("tollgate.services", "tollgate.adapters", *OUTER), ()),
    "tollgate.adapters": (("tollgate.services", *OUTER), ("tollgate.services.ports",)),
    "tollgate.services": (OUTER, ()),
}


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return build(PACKAGE)


def test_the_graph_sees_the_whole_package(graph: ImportGraph) -> None:
    assert "tollgate.domain.keys" in graph.modules
    assert any(e.target == "tollgate.domain.keys" for e in graph.edges)


def test_no_import_cycles(graph: ImportGraph) -> None:
    """A cycle hidden by imports inside functions is a cycle of the design all the same."""
    cycles = graph.cycles()
    assert not cycles, f"{len(cycles)} import cycle(s) in shared/tollgate:\n" + "\n".join(
        graph.describe(c) for c in cycles
    )


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports_nothing_from_outer_layers(graph: ImportGraph, layer: str) -> None:
    forbidden, allowed = LAYERS[layer]
    bad = layer_violations(graph, layer, forbidden, allowed)
    assert not bad, f"{layer} imports from {', '.join(forbidden)}:\n" + "\n".join(
        f"  {e.source} -> {e.target}  ({e.kind}, {e.where(graph.root)})" for e in bad
    )
