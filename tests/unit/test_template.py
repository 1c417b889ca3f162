"""template.yaml is the one source of truth: these tests keep the code honest against it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tollgate.adapters import models
from tollgate_dev.local.template import Template, import_handler


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


def _table_for(template: Template, model) -> object:
    env = {}
    for spec in template.functions().values():
        env.update(spec.environment)
    name = env[model.Meta.env_name]
    specs = {s.name: s for s in template.table_specs().values()}
    assert name in specs, f"{model.__name__}: {model.Meta.env_name} names no table of the template"
    return specs[name]


@pytest.mark.parametrize("model", models.ALL_MODELS, ids=lambda m: m.__name__)
def test_model_matches_its_table(template, model):
    table = _table_for(template, model)
    types = {a["AttributeName"]: a["AttributeType"] for a in table.attribute_definitions}
    keys = {k["KeyType"]: k["AttributeName"] for k in table.key_schema}
    attrs = model.get_attributes()
    by_db_name = {a.attr_name: a for a in attrs.values()}

    assert keys["HASH"] == attrs[model._hash_keyname].attr_name
    assert types[keys["HASH"]] == by_db_name[keys["HASH"]].attr_type
    if model._range_keyname:
        assert keys.get("RANGE") == attrs[model._range_keyname].attr_name
        assert types[keys["RANGE"]] == by_db_name[keys["RANGE"]].attr_type
    else:
        assert "RANGE" not in keys

    model_indexes = {i.Meta.index_name for i in model._indexes.values()} if model._indexes else set()
    template_indexes = {g["IndexName"] for g in table.global_secondary_indexes + table.local_secondary_indexes}
    assert model_indexes == template_indexes

    ttl = model._ttl_attribute()
    assert (ttl.attr_name if ttl else None) == table.ttl_attribute
    assert table.billing_mode == "PAY_PER_REQUEST"


def test_every_template_table_has_a_model(template):
    modelled = {_table_for(template, m).logical_id for m in models.ALL_MODELS}
    assert modelled == set(template.table_specs())


@pytest.mark.parametrize("logical_id", sorted(Template.load(ROOT / "template.yaml").functions()))
def test_every_function_handler_is_importable_and_callable(template, logical_id):
    spec = template.functions()[logical_id]
    assert spec.code_dir.is_relative_to(ROOT / "functions")
    # A fresh import (its own execution environment and composition root), not kept for later imports.
    assert callable(import_handler(spec, fresh=True))


def test_functions_run_python_313_on_arm64(template):
    doc = template.document
    assert doc["Globals"]["Function"]["Runtime"] == "python3.13"
    assert doc["Globals"]["Function"]["Architectures"] == ["arm64"]
    env = doc["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Tollgate" and env["POWERTOOLS_SERVICE_NAME"] == "tollgate"


def test_queue_visibility_is_six_times_the_consumer_timeout_and_dead_letters_after_five(template):
    consumer = template.functions()["ConsumerFunction"]
    queue = template.document["Resources"]["UsageQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * consumer.timeout_s
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5


def test_no_policy_statement_uses_a_wildcard_resource(template):
    for logical_id, raw in template.resources_of_type("AWS::Serverless::Function"):
        for policy in raw.get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                assert "*" not in resources, logical_id


def test_cfn_lint_is_clean():
    lint = ROOT / ".venv" / "bin" / "cfn-lint"
    cmd = [str(lint)] if lint.exists() else [sys.executable, "-m", "cfnlint"]
    result = subprocess.run([*cmd, str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_requirements_match_the_runtime_dependencies():
    """sam build installs shared/requirements.txt into the layer; it must not drift from pyproject."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [*project["dependencies"], *project["optional-dependencies"]["server"]]
    layer = [
        line.strip()
        for line in (ROOT / "shared" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert set(layer) == {d for d in runtime if not d.startswith("boto3")}
