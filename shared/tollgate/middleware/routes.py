"""The route TEMPLATE of a request (``/items/{id}``), read from what the framework left behind,
never the raw path: a usage dimension must take a bounded set of values.

- Starlette and FastAPI: the router writes the matched route into the scope dict it was given
  (``scope["route"]``, whose ``path`` is the template). A route inside a mounted application is
  relative to its mounts, so the mounts' templates are found again by matching the mounts, and
  only the mounts, from the top application's routes.
- Flask (werkzeug): ``environ["werkzeug.request"].url_rule.rule``, converters rewritten
  (``/items/<int:id>`` -> ``/items/{id}``). Flask sets that key to None when its request context
  ends, before its ``wsgi_app`` returns, so the WSGI middleware reads it when the application
  calls ``start_response``.
- Anything else: the middleware's ``route=`` callable, else ``UNMATCHED``.
"""

from __future__ import annotations

import functools
import re
from typing import Any

UNMATCHED = "unmatched"
_MAX_MOUNTS = 8
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <int:id>, <path:p>, <name>
_STARLETTE_CONVERTER = re.compile(r"{([^{}:]+):[^{}]+}")  # {id:int} -> {id}


def asgi_route(scope: dict[str, Any], top: Any, root_path: str) -> str | None:
    """The template the Starlette/FastAPI router matched, or None. ``top`` is the application
    whose routes the request entered (``scope["app"]`` on entry, or the wrapped app), and
    ``root_path`` the scope's root path on entry."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    mounted = scope.get("root_path", "")
    chain = _mount_chain(top, scope.get("path", ""), root_path, mounted) if mounted != root_path else []
    if _is_mount(route):
        if _routes_of(route):
            return None  # a mounted router matched none of its routes: a 404
        path = "/{path}" if chain and chain[-1] is route else path.rstrip("/") + "/{path}"
    prefix = "".join(m.path.rstrip("/") for m in chain)
    return _starlette_template(prefix + path)


def _mount_chain(top: Any, full_path: str, root_path: str, mounted: Any) -> list[Any]:
    """The mounts the request went through, matched again from ``top`` along its path until the
    raw prefix they consumed is the scope's final root path; [] when they cannot be found (the
    route's own template is kept, without its prefix)."""
    if not isinstance(mounted, str) or not mounted.startswith(root_path):
        return []
    remaining = full_path[len(root_path) :] if full_path.startswith(root_path) else full_path
    wanted, consumed = len(mounted) - len(root_path), 0
    chain: list[Any] = []
    routes = _routes_of(top)
    while len(chain) < _MAX_MOUNTS:
        step = _match_mount(routes, remaining)
        if step is None:
            return []
        mount, rest = step
        chain.append(mount)
        consumed += len(remaining) - len(rest)
        if consumed >= wanted:
            return chain if consumed == wanted else []
        remaining, routes = rest, _routes_of(mount)
    return []


def _is_mount(route: Any) -> bool:
    return hasattr(route, "routes") and not hasattr(route, "endpoint") and hasattr(route, "path_regex")


def _routes_of(app: Any) -> list[Any]:
    """The routes of ``app``, looking through middleware that wraps it (``.app``)."""
    for _ in range(_MAX_MOUNTS):
        routes = getattr(app, "routes", None)
        if routes is None:
            routes = getattr(getattr(app, "router", None), "routes", None)
        if isinstance(routes, list | tuple):
            return list(routes)
        app = getattr(app, "app", None)
        if app is None:
            break
    return []


def _match_mount(routes: list[Any], path: str) -> tuple[Any, str] | None:
    for candidate in routes:
        if not _is_mount(candidate):
            continue
        match = candidate.path_regex.match(path)
        if match and "path" in match.groupdict():
            return candidate, "/" + match.group("path")
    return None


def wsgi_route(environ: dict[str, Any]) -> str | None:
    """The werkzeug (Flask) URL rule that matched, as a ``{name}`` template, or None."""
    request = environ.get("werkzeug.request")
    rule = getattr(getattr(request, "url_rule", None), "rule", None)
    if not isinstance(rule, str):
        return None
    return flask_template(rule)


@functools.lru_cache(maxsize=1024)  # routes are few: each template is rewritten once
def _starlette_template(path: str) -> str:
    return _STARLETTE_CONVERTER.sub(r"{\1}", path) if ":" in path else path


@functools.lru_cache(maxsize=1024)
def flask_template(rule: str) -> str:
    return _CONVERTER.sub(r"{\1}", rule)
