"""Performance and cost figures: ``python -m bench`` (``make bench``).

Each section is a module with ``NAME``, ``run() -> dict`` (JSON-able figures) and
``rows(result) -> list[tuple[str, str, str, str]]`` (what, figure, target, met?). Register a new
section in ``SECTIONS`` in ``bench/__main__.py``.
"""
