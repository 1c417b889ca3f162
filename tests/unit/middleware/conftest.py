from __future__ import annotations

import pytest

from tollgate.middleware import _policy


@pytest.fixture(autouse=True)
def fresh_log_limits(monkeypatch):
    """The middleware logs each kind of failure at most once a minute, process-wide: each test
    starts with no record of the previous test's lines."""
    monkeypatch.setattr(_policy, "limited", _policy.LimitedLog())
