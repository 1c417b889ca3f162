"""A module-scoped in-process moto with every resource of template.yaml, emptied before each
test: the same world as ``tests/conftest.py``'s ``aws`` fixture for a fraction of the setup
cost (one mock, one set of clients per module instead of per test)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def module_aws() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from tollgate_dev.local.resources import create_all
    from tollgate_dev.local.template import Template, merged_environment

    patch = pytest.MonkeyPatch()
    try:
        with mock_aws():
            template = Template.load(ROOT / "template.yaml")
            created = create_all(template, boto3.Session())
            for name, value in merged_environment(template.functions()).items():
                patch.setenv(name, value)
            yield created
    finally:
        patch.undo()


def empty_tables(tables: dict[str, str]) -> None:
    import boto3

    client = boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))
    for name in tables.values():
        schema = client.describe_table(TableName=name)["Table"]["KeySchema"]
        key_names = [k["AttributeName"] for k in schema]
        for page in client.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                client.delete_item(TableName=name, Key={k: item[k] for k in key_names})


@pytest.fixture
def fresh_aws(module_aws) -> Iterator[Any]:
    """Every table empty (each test builds its own roots, so no cache outlives it)."""
    empty_tables(module_aws.tables)
    yield module_aws
