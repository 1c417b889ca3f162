"""The HTTP edge: problem+json errors, the auth guard, pydantic schemas and routes."""
