"""Routers, one per resource. Each function's resolver includes the routers it serves; the
API function includes them all so /openapi.json documents the whole API."""
