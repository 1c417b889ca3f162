"""Usage-tracking and enforcing middleware for ASGI (Starlette, FastAPI) and WSGI (Flask,
Django) applications: one buffered usage event per request, an optional consume before the
handler. docs/middleware.md has the semantics. Imports the standard library and tollgate.client
only (never a web framework)."""

from tollgate.middleware.asgi import TollgateASGIMiddleware
from tollgate.middleware.routes import UNMATCHED
from tollgate.middleware.wsgi import TollgateWSGIMiddleware

__all__ = ["UNMATCHED", "TollgateASGIMiddleware", "TollgateWSGIMiddleware"]
