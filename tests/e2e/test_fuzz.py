"""Property-based fuzzing of the running local stack from its own /openapi.json (schemathesis).

No response may be a 5xx, and every response must match its documented status codes,
content type and schema. `make test` runs a short, bounded pass; `make fuzz` a longer one
(TOLLGATE_FUZZ_EXAMPLES examples per operation). The schemathesis CLI is used rather than
its pytest plugin, which does not work with pytest 9."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import start_local_stack

pytestmark = pytest.mark.e2e
EXAMPLES = os.environ.get("TOLLGATE_FUZZ_EXAMPLES", "10")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def fuzz_stack():
    """A stack of its own: the fuzzer creates, changes and revokes keys and tenants at random,
    which must not touch the stack the other end-to-end tests share."""
    stack = start_local_stack()
    try:
        yield stack
    finally:
        stack.stop()


def test_api_never_fails_and_matches_its_schema(fuzz_stack, tmp_path: Path):
    local_stack = fuzz_stack
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    cmd = [
        cli,
        "run",
        f"{local_stack.base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        "20261120",
        "--generation-deterministic",
        "--workers",
        "1",
        # Not the stateful phase: it follows links from GET /v1/keys to DELETE and revokes its own key.
        "--phases",
        "examples,coverage,fuzzing",
        "--request-timeout",
        "30",
        "-H",
        f"Authorization: Bearer {local_stack.admin_key}",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
