"""Kept for the tests that import ``RoutedApi``: the in-process client of conftest routes by the
template itself."""

from tests.integration.conftest import InProcessApi as RoutedApi

__all__ = ["RoutedApi"]
