"""``GET /dashboard``: the operator console and tenant portal (docs/console.md).

Static HTML, CSS and ES modules shipped in the layer (``tollgate/console``), served without a
key: the page holds no data, and its scripts send the key the operator pastes to the public API
(same origin) as ``Authorization: Bearer``. Only the files of that one directory are served,
looked up by name in the listing made at import: a path with ``/``, ``..`` or an encoded
anything is not one of those names, so it is a 404 like any unknown path. Every answer carries
a Content-Security-Policy that allows same-origin scripts, styles and requests only."""

from __future__ import annotations

from importlib.resources import files

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from tollgate.api import problems

PREFIX = "/dashboard"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The page is fetched again on every load (it names the scripts); the scripts and styles may be
# reused for five minutes, so a deploy reaches every open console within that.
CACHE = {
    ".html": "no-cache",
    ".css": "public, max-age=300",
    ".js": "public, max-age=300",
    ".svg": "public, max-age=300",
}


def is_console(method: str, path: str) -> bool:
    """A console request: public (no key), like /health and /docs. GET only, as template.yaml
    routes it; any other method goes through the authorizer and the key check."""
    return method == "GET" and (path == PREFIX or path.startswith(PREFIX + "/"))


def load_assets() -> dict[str, tuple[str, str]]:
    """name -> (suffix, text) of every servable file of the console directory."""
    directory = files("tollgate") / "console"
    assets: dict[str, tuple[str, str]] = {}
    for entry in directory.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        if entry.is_file() and suffix in CONTENT_TYPES:
            assets[entry.name] = (suffix, entry.read_text(encoding="utf-8"))
    return assets


def build_router() -> Router:
    router = Router()
    assets = load_assets()

    def serve(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            return problems.problem(404, "not-found", "Not found", f"the console has no file {name!r}")
        suffix, text = found
        return Response(200, CONTENT_TYPES[suffix], text, headers={**SECURITY_HEADERS, "Cache-Control": CACHE[suffix]})

    @router.get(PREFIX, include_in_schema=False)
    def console_page():  # a Response: no body schema
        return serve("index.html")

    @router.get(PREFIX + "/<name>", include_in_schema=False)
    def console_asset(name: str):
        return serve(name)

    return router
