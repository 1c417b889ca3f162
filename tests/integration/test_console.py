"""GET /dashboard: the console's files, served by the API function as API Gateway routes them
(template.yaml's Dashboard and DashboardAssets events, no authorizer): no key needed, the right
content types, a same-origin Content-Security-Policy on every answer, only the console
directory's own files (no path traversal), and none of it in the OpenAPI document. GET /v1/me
names the caller's scope and tenant, never its key."""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files
from pathlib import Path

import pytest

from tollgate.api.console import CSP
from tollgate.domain.keys import Scope, split_key

CONSOLE = Path(str(files("tollgate") / "console"))
IMPORT = re.compile(r"""from\s+["']\./([^"']+)["']""")
ASSET_REF = re.compile(r"""(?:src|href)="/dashboard/([^"]+)\"""")


@pytest.fixture(scope="module")
def api(aws_module):
    from tests.integration.routing import RoutedApi

    return RoutedApi()


def test_the_page_needs_no_key_and_carries_the_security_headers(api):
    r = api.call("GET", "/dashboard")
    assert r.status == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == CSP
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-cache"
    assert '<script type="module" src="/dashboard/app.js">' in r.body


def test_the_routes_are_the_templates_and_skip_the_authorizer():
    from tollgate_dev.local.gateway import routes_from_template
    from tollgate_dev.local.template import Template

    routes, _ = routes_from_template(Template.load(Path(__file__).resolve().parents[2] / "template.yaml"))
    for path in ("/dashboard", "/dashboard/app.js", "/dashboard/deep/er.js"):
        route, _ = routes.match("GET", path)
        assert route.function_id == "ApiFunction" and route.authorizer is None, path
    route, _ = routes.match("POST", "/dashboard")
    assert route.path == "$default" and route.authorizer is not None  # only GET is public


@pytest.mark.parametrize(
    "name,content_type",
    [
        (p.relative_to(CONSOLE).as_posix(), t)
        for p in sorted([*CONSOLE.iterdir(), *(CONSOLE / "vendor" / "uplot").iterdir()])
        for s, t in ((".js", "text/javascript"), (".css", "text/css"))
        if p.suffix == s
    ],
)
def test_every_asset_is_served_with_its_type_and_policy(api, name, content_type):
    r = api.call("GET", f"/dashboard/{name}")
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == f"{content_type}; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == CSP and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.body == (CONSOLE / name).read_text(encoding="utf-8")


def test_every_file_the_page_and_its_modules_load_is_served(api):
    """The page's references and every relative import resolve to files of the directory (a
    module that failed to load would break the console only in a browser)."""
    wanted = set(ASSET_REF.findall((CONSOLE / "index.html").read_text()))
    for js in CONSOLE.glob("*.js"):
        wanted |= set(IMPORT.findall(js.read_text()))
    assert {
        "app.js",
        "console.css",
        "api.js",
        "sections.js",
        "vendor/uplot/uPlot.esm.js",
        "vendor/uplot/uPlot.min.css",
    } <= wanted
    for name in wanted:
        assert api.call("GET", f"/dashboard/{name}").status == 200, name


def test_no_script_or_markup_is_written_from_data():
    """The modules build the DOM with text nodes: no innerHTML, document.write or eval."""
    for js in CONSOLE.glob("*.js"):
        text = js.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in text, (js.name, forbidden)
        assert "localStorage" not in text and "document.cookie" not in text, js.name


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/../openapi.json",
        "/dashboard/..",
        "/dashboard/%2e%2e",
        "/dashboard/%2e%2e/template.yaml",
        "/dashboard/%2e%2e%2fconsole.py",
        "/dashboard/..%2f..%2fconfig.py",
        "/dashboard/sub/app.js",
        "/dashboard/app.js%00.css",
        "/dashboard/console.py",
        "/dashboard/nope.js",
        "/dashboard/.",
        # the vendored folder: its listed .js and .css only, nothing beside, above or below it
        "/dashboard/vendor/uplot/LICENSE",
        "/dashboard/vendor/uplot/README.md",
        "/dashboard/vendor/uplot/../../app.js",
        "/dashboard/vendor/uplot/..%2f..%2fapp.js",
        "/dashboard/vendor/uplot/%2e%2e/%2e%2e/console.css",
        "/dashboard/vendor/uplot/uPlot.esm.js/..",
        "/dashboard/vendor/uplot/sub/uPlot.esm.js",
        "/dashboard/vendor/uplot",
        "/dashboard/vendor/uplot/",
        "/dashboard/vendor/%2e%2e/app.js",
        "/dashboard/vendor/..%2fconsole/app.js",
        "/dashboard/vendor/other/uPlot.esm.js",
        "/dashboard/vendor/uPlot.esm.js",
        "/dashboard/vendor/uplot%2fuPlot.esm.js",
        "/dashboard/uplot/uPlot.esm.js",
        "/dashboard/uPlot.esm.js",
        "/dashboard/app.js/../vendor/uplot/uPlot.esm.js",
    ],
)
def test_only_the_directorys_own_files_are_served(api, path):
    r = api.call("GET", path)
    assert r.status == 404 and r.problem["type"] == "/problems/not-found", (path, r.status)


def test_the_vendored_library_is_served_as_packaged_with_its_licence_beside_it(api):
    """uPlot's files are the npm package's, byte for byte (the README names their sha256), and
    ship in the layer with their licence; served with the console's headers."""
    vendor = CONSOLE / "vendor" / "uplot"
    readme = (vendor / "README.md").read_text()
    assert "1.6.32" in readme and "MIT" in readme
    assert "MIT License" in (vendor / "LICENSE").read_text()
    for name in ("uPlot.esm.js", "uPlot.min.css", "LICENSE"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"`{name}`" in readme and digest in readme, name
    r = api.call("GET", "/dashboard/vendor/uplot/uPlot.esm.js")
    assert r.status == 200 and r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "export { uPlot as default };" in r.body
    assert r.headers["Content-Security-Policy"] == CSP and r.headers["Cache-Control"] == "public, max-age=300"


def test_the_console_is_not_in_the_openapi_document(api):
    doc = api.call("GET", "/openapi.json").body
    assert not [p for p in doc["paths"] if p.startswith("/dashboard")]
    assert "/v1/me" in doc["paths"]


@pytest.fixture(scope="module")
def keys(api, module_admin_key):
    from tests.conftest import new_root

    assert api.call("POST", "/v1/tenants", key=module_admin_key, body={"id": "acme", "name": "Acme"}).status == 201
    create = new_root().keys.create_key
    return {
        Scope.ADMIN: module_admin_key,
        Scope.TENANT: create(Scope.TENANT, tenant_id="acme"),
        Scope.INGEST: create(Scope.INGEST),
    }


def test_me_names_the_scope_tenant_and_key_id_never_the_key(api, keys):
    record, tenant_key = keys[Scope.TENANT]
    r = api.call("GET", "/v1/me", key=tenant_key)
    assert r.status == 200 and r.body == {"scope": "tenant", "tenant": "acme", "key_id": record.id}
    record, ingest_key = keys[Scope.INGEST]
    assert api.call("GET", "/v1/me", key=ingest_key).body == {"scope": "ingest", "tenant": None, "key_id": record.id}
    admin = api.call("GET", "/v1/me", key=keys[Scope.ADMIN], header_style="x-api-key").body
    assert admin["scope"] == "admin" and admin["tenant"] is None and admin["key_id"].startswith("key_")
    for key in (tenant_key, ingest_key, keys[Scope.ADMIN]):
        reply = api.call("GET", "/v1/me", key=key)
        secret = split_key(key)[1]  # the whole secret: its last "_" fragment can be one letter
        assert key not in str(reply.body) and secret not in str(reply.body)


def test_me_without_a_key_is_401(api):
    assert api.call("GET", "/v1/me").status == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_console_need_a_key(api, method):
    """Only GET is public; anything else reaches the authorizer's route and the key check."""
    r = api.call(method, "/dashboard")
    assert r.status == 401 and r.problem["type"] == "/problems/unauthenticated"
