"""``python -m bench.architecture [--json]``: the structure figures of the tree it runs in.

- sizes: the largest modules of ``shared/tollgate`` (and ``dev/`` if there is one), in lines and
  in lines that are neither blank nor comments (docstrings count);
- imports: the ast import graph of ``shared/tollgate``, deferred imports included
  (tests/import_graph.py), and its strongly connected components of more than one module;
- walks: the project modules one warm ``POST /v1/events`` and one warm ``POST /v1/consume``
  run (authorizer, then the route's function), traced with ``sys.setprofile``, and each pair of
  modules that call each other both ways. A call is an edge from the nearest project frame
  below the callee, so a route called by Powertools' resolver is called by the module that
  called the resolver; ``direct`` says no library frame stood between them;
- repeated: the ``duplicates`` tool over a copy of the tree without tests/, if it is on PATH.

The walks run on in-process moto built from template.yaml (tests/conftest.py ``moto_stack``)
and go through public entry points only - the CLI for the first admin key, the API function
for the tenant, meter, plan and key, the authorizer and the route's function for the request -
so they keep working while the code behind the handlers is rearranged.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "shared" / "tollgate"
LARGEST = 15
NOT_TESTS = ("shared", "functions", "bench", "dev")  # the folders the repeated-code count reads


# ------------------------------------------------------------------ sizes
def line_counts(path: Path) -> tuple[int, int]:
    """(lines, lines that are neither blank nor a comment)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return len(lines), sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))


def sizes() -> dict[str, Any]:
    rows = []
    for folder in (PACKAGE, ROOT / "dev"):
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else ():
            lines, code = line_counts(path)
            rows.append({"module": str(path.relative_to(ROOT)), "lines": lines, "code": code})
    rows.sort(key=lambda r: (-r["lines"], r["module"]))
    return {
        "files": len(rows),
        "lines": sum(r["lines"] for r in rows),
        "code": sum(r["code"] for r in rows),
        "modules_250_lines_or_more": sum(1 for r in rows if r["lines"] >= 250),
        "largest": rows[:LARGEST],
    }


# ------------------------------------------------------------------ imports
def imports() -> dict[str, Any]:
    from tests.import_graph import build

    graph = build(PACKAGE)
    components = graph.cycles()
    return {
        "modules": len(graph.modules),
        "imports": dict(sorted(Counter(e.kind for e in graph.edges).items())),
        "cycle_count": len(components),
        "cycles": [
            {
                "modules": component,
                "imports": [
                    f"{e.source} -> {e.target} ({e.kind}, {e.where(graph.root)})"
                    for e in sorted(graph.edges_between(component), key=lambda e: (e.source, e.target, e.line))
                ],
            }
            for component in components
        ],
    }


# ------------------------------------------------------------------ walks
class CallTrace:
    """Caller -> callee module edges of every call into a project module, in every thread.
    Project modules: ``tollgate.*``, and each function's ``app.py`` (labelled
    ``functions.<name>.app``, whatever name it was imported under)."""

    def __init__(self) -> None:
        self._labels: dict[str | None, str | None] = {}  # module __name__ -> label; None: not ours
        self.functions: set[str] = set()
        self.edges: dict[tuple[str, str], bool] = {}  # (caller, callee) -> some call was direct

    def label(self, name: str | None) -> str | None:
        if name not in self._labels:
            file = Path(getattr(sys.modules.get(name or ""), "__file__", None) or "/")
            if name is not None and (name == "tollgate" or name.startswith("tollgate.")):
                self._labels[name] = name
            elif file.name == "app.py" and file.parent.parent == ROOT / "functions":
                self._labels[name] = f"functions.{file.parent.name}.app"
            else:
                self._labels[name] = None
        return self._labels[name]

    def _profile(self, frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = self.label(frame.f_globals.get("__name__"))
        if callee is None:
            return
        self.functions.add(f"{callee}:{frame.f_code.co_qualname}")
        caller, direct = frame.f_back, True
        while caller is not None and self.label(caller.f_globals.get("__name__")) is None:
            caller, direct = caller.f_back, False
        if caller is not None:
            edge = (self.label(caller.f_globals.get("__name__")), callee)
            if edge[0] != edge[1]:
                self.edges[edge] = self.edges.get(edge, False) or direct

    def run(self, call: Callable[[], Any]) -> Any:
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        try:
            return call()
        finally:
            sys.setprofile(None)
            threading.setprofile(None)

    def modules(self) -> list[str]:
        return sorted({f.partition(":")[0] for f in self.functions})


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "tollgate" and len(parts) > 2 else parts[0]


def _walk_figures(stages: dict[str, CallTrace]) -> dict[str, Any]:
    edges: dict[tuple[str, str], bool] = {}
    for trace in stages.values():
        for edge, direct in trace.edges.items():
            edges[edge] = edges.get(edge, False) or direct
    both = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    modules = sorted({m for t in stages.values() for m in t.modules()})
    return {
        "module_count": len(modules),
        "function_count": len({f for t in stages.values() for f in t.functions}),
        "modules": modules,
        "stages": {
            name: {"module_count": len(t.modules()), "function_count": len(t.functions), "modules": t.modules()}
            for name, t in stages.items()
        },
        "both_ways": [{"modules": list(pair), "direct": [edges[pair], edges[(pair[1], pair[0])]]} for pair in both],
        "layer_edges": dict(sorted(Counter(f"{layer(a)}->{layer(b)}" for a, b in edges).items())),
        "edges": [f"{a} -> {b}{'' if d else ' (through a library)'}" for (a, b), d in sorted(edges.items())],
    }


def _world(api: Any, admin: str) -> dict[str, Any]:
    """A tenant on a plan that limits a count meter, and a key of that tenant; all through the API."""
    tag = uuid.uuid4().hex[:8]
    meter, plan, tenant = f"walk.{tag}", f"walk-{tag}", f"walk-{tag}"

    def ok(reply: Any, status: int) -> Any:
        assert reply.status == status, (reply.status, reply.body)
        return reply.body

    ok(api.call("POST", "/v1/meters", key=admin, body={"key": meter, "name": meter, "aggregation": "count"}), 201)
    limits = [{"meter": meter, "window": "month", "limit": 1_000_000, "enforcement": "hard"}]
    ok(api.call("PUT", f"/v1/plans/{plan}", key=admin, body={"name": plan, "limits": limits}), 200)
    ok(api.call("POST", "/v1/tenants", key=admin, body={"id": tenant, "name": tenant, "plan": plan}), 201)
    key = ok(api.call("POST", "/v1/keys", key=admin, body={"scope": "tenant", "tenant_id": tenant}), 201)["key"]
    return {"meter": meter, "tenant": tenant, "key": key}


WALKS = {
    "POST /v1/events": lambda w: {"id": uuid.uuid4().hex, "type": w["meter"], "subject": w["tenant"]},
    "POST /v1/consume": lambda w: {"id": uuid.uuid4().hex, "meter": w["meter"], "amount": 1},
}


def walks() -> dict[str, Any]:
    from tests.conftest import FakeContext, moto_stack
    from tests.integration.conftest import InProcessApi, Reply, cli_admin_key

    out: dict[str, Any] = {}
    with moto_stack(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No application metrics to publish")
        api = InProcessApi()
        world = _world(api, cli_admin_key("architecture-walks"))
        for route, body in WALKS.items():
            method, path = route.split(" ")
            for _ in range(2):  # the first request warms caches, clients and leases; the second is traced
                headers = {"Authorization": f"Bearer {world['key']}"}
                authorizer = CallTrace()
                authorizer.run(lambda h=headers: api.authorize(h))
                function_id, event = api.request(method, path, body=body(world), headers=headers)
                handler = api.handler_for(function_id)
                trace = CallTrace()
                reply = Reply.of(trace.run(lambda h=handler, e=event: h(e, FakeContext())))
                assert reply.status in (200, 202), (route, reply.status, reply.body)
            out[route] = {
                "function": function_id,
                "status": reply.status,
                **_walk_figures({"authorizer": authorizer, "function": trace}),
            }
    return out


# ------------------------------------------------------------------ repeated code
def repeated(seconds: int = 60) -> dict[str, Any] | None:
    """``duplicates`` over a copy of the folders outside tests/ (None without the tool)."""
    tool = shutil.which("duplicates")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory(prefix="tollgate-repeated-") as tmp:
        for folder in NOT_TESTS:
            if (ROOT / folder).is_dir():
                shutil.copytree(ROOT / folder, Path(tmp) / folder, ignore=shutil.ignore_patterns("__pycache__"))
        text = subprocess.run(
            [tool, "--repo", tmp, "--most", "200", "--seconds", str(seconds)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    first = text.splitlines()[0] if text else ""
    counted = re.match(r"(\d+) pairs? of places \((\d+) files read\)", first)
    rows = [line for line in text.splitlines() if re.match(r"D\d+ ", line)]
    return {
        "folders": [f for f in NOT_TESTS if (ROOT / f).is_dir()],
        "pairs": int(counted.group(1)) if counted else 0,
        "files": int(counted.group(2)) if counted else None,
        "summary": first,
        "rows": rows,
        "exact_rows": [r for r in rows if " shape" not in r],
    }


# ------------------------------------------------------------------ report
def _git_revision() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "unknown"


def measure(with_walks: bool = True) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "tree": str(ROOT),
        "revision": _git_revision(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sizes": sizes(),
        "imports": imports(),
    }
    if with_walks:
        with contextlib.redirect_stdout(io.StringIO()):  # the functions' log lines and metrics
            figures["walks"] = walks()
    figures["repeated"] = repeated()
    return figures


def report(f: dict[str, Any]) -> str:
    s, i = f["sizes"], f["imports"]
    out = [f"{f['tree']} at {f['revision']} ({f['at']})", ""]
    out.append(f"sizes: {s['files']} files, {s['lines']} lines ({s['code']} not blank or comment)")
    out.append(f"  {s['modules_250_lines_or_more']} modules of 250 lines or more; the {LARGEST} largest:")
    out += [f"  {r['lines']:5} ({r['code']:4})  {r['module']}" for r in s["largest"]]
    out += ["", f"imports: {i['modules']} modules, {i['imports']} import statements inside the package"]
    out.append(f"  strongly connected components of more than one module: {i['cycle_count']}")
    for c in i["cycles"]:
        out += ["  {" + ", ".join(c["modules"]) + "}", *(f"    {e}" for e in c["imports"])]
    for route, w in f.get("walks", {}).items():
        out += ["", f"walk: warm {route} -> {w['function']} ({w['status']})"]
        out.append(f"  {w['module_count']} project modules, {w['function_count']} functions; by stage:")
        for name, stage in w["stages"].items():
            out.append(f"  {name}: {stage['module_count']} modules, {stage['function_count']} functions")
            out += [f"    {m}" for m in stage["modules"]]
        out.append(f"  pairs calling each other both ways: {len(w['both_ways'])}")
        for pair in w["both_ways"]:
            a, b = pair["modules"]
            marks = ["direct" if d else "through a library" for d in pair["direct"]]
            out.append(f"    {a} <-> {b}  ({a} -> {b} {marks[0]}; back {marks[1]})")
        out.append(f"  edges by layer: {w['layer_edges']}")
    r = f.get("repeated")
    out += ["", "repeated code outside tests: " + ("(duplicates not on PATH)" if r is None else r["summary"])]
    if r is not None:
        out += [f"  {row}" for row in r["rows"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.architecture", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    parser.add_argument("--no-walks", action="store_true", help="skip the traced requests (no moto needed)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "shared"))
    figures = measure(with_walks=not args.no_walks)
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
