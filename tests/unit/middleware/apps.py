"""The FastAPI and Flask applications the middleware's unit tests drive, and the tenant
callables (the tenant is the ``X-Tenant`` header, as an application's own auth would give it)."""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from flask import Blueprint, Flask, Response, request
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x prefers httpx2 for its TestClient
    from starlette.testclient import TestClient  # noqa: F401 - re-exported for the tests


def asgi_tenant(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-tenant":
            return value.decode()
    return None


def wsgi_tenant(environ: dict[str, Any]) -> str | None:
    return environ.get("HTTP_X_TENANT")


class Boom(Exception):
    pass


def fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/echo")
    async def echo(request: Request) -> PlainTextResponse:
        return PlainTextResponse(await request.body(), status_code=201)

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"ab", b"cde", b"f"]), media_type="text/plain")

    @app.get("/boom")
    def boom() -> None:
        raise Boom("the handler failed")

    @app.get("/limited")
    def limited() -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"RateLimit": "own"})

    v2 = APIRouter(prefix="/v2")

    @v2.get("/users/{user_id}")
    def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    app.include_router(v2)

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.mount("/orgs/{org}", sub)

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app.mount("/raw", Starlette(routes=[Mount("/deep", routes=[Route("/a/{x:int}", hello)])]))
    return app


def flask_app() -> Flask:
    app = Flask(__name__)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/echo")
    def echo() -> tuple[bytes, int]:
        return request.get_data(), 201

    @app.get("/stream")
    def stream() -> Response:
        return Response(iter([b"ab", b"cde", b"f"]), mimetype="text/plain")

    @app.get("/boom")
    def boom() -> None:
        raise Boom("the handler failed")

    @app.get("/limited")
    def limited() -> Response:
        return Response("ok", headers={"RateLimit": "own"})

    v2 = Blueprint("v2", __name__, url_prefix="/v2")

    @v2.get("/files/<path:name>")
    def file(name: str) -> str:
        return name

    app.register_blueprint(v2)
    return app
