"""The import graph of shared/tollgate, read with ast: no cycle (deferred imports included), and
the inner layers import nothing from the outer ones. See tests/import_graph.py for what counts."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.import_graph import ImportGraph, build, layer_violations

PACKAGE = ROOT / "shared" / "tollgate"

# layer -> what it may not import (type-only imports included: a type names a dependency too)
LAYERS = {
    "tollgate.domain": ("tollgate.services", "tollgate.adapters", "tollgate.api"),
    "tollgate.adapters": ("tollgate.services", "tollgate.api"),
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
    bad = layer_violations(graph, layer, LAYERS[layer])
    assert not bad, f"{layer} imports from {', '.join(LAYERS[layer])}:\n" + "\n".join(
        f"  {e.source} -> {e.target}  ({e.kind}, {e.where(graph.root)})" for e in bad
    )
