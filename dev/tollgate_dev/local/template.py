"""template.yaml as data: a CloudFormation-aware YAML loader, intrinsic functions, and specs.

Everything the local stack creates or runs is derived from the template through this module:
tables (``table_specs``), functions (``iter_functions``, ``load_handler``) and the values every
``!Ref``/``!GetAtt``/``!Sub`` resolves to. Physical names are deterministic,
``<stack name>-<logical id, lower-cased>`` unless the template names the resource itself.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import yaml

STACK_NAME = "tollgate-local"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

Handler = Callable[[Any, Any], Any]


class TemplateError(ValueError):
    """The template uses something this loader cannot resolve."""


# ------------------------------------------------------------------ loader
class _Loader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long (JSON) form."""


def _construct_tag(loader: _Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML (short tags such as ``!Ref`` and ``!GetAtt A.Arn`` included)."""
    document = yaml.load(text, Loader=_Loader)
    if not isinstance(document, dict):
        raise TemplateError("a template is a mapping")
    return document


def default_template_path() -> Path:
    """``$TOLLGATE_TEMPLATE``, else ``./template.yaml``, else the checkout this package lives in."""
    if env := os.environ.get("TOLLGATE_TEMPLATE"):
        return Path(env)
    cwd = Path.cwd() / "template.yaml"
    if cwd.is_file():
        return cwd
    return Path(__file__).resolve().parents[3] / "template.yaml"


# ------------------------------------------------------------------ specs
@dataclass(frozen=True)
class TableSpec:
    """What DynamoDB needs to create a table, straight from the template."""

    logical_id: str
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    billing_mode: str = "PROVISIONED"
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    provisioned_throughput: dict[str, int] | None = None
    stream_specification: dict[str, Any] | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    """An ``AWS::Serverless::Function`` with ``Globals.Function`` merged in and its values resolved."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]  # event id -> {"Type": ..., "Properties": {...}} (unresolved)


_NO_VALUE = object()  # AWS::NoValue: removes the enclosing key or list item

_NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
}

_ARN_FORMAT = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Serverless::LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
}


def as_text(value: Any) -> str:
    """A resolved scalar as CloudFormation renders it (``true``, ``400``, ...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def merge_globals(globals_: Mapping[str, Any], properties: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals rule: maps merge, lists concatenate (globals first), scalars are overridden."""
    merged: dict[str, Any] = dict(globals_)
    for key, value in properties.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in Template.INTRINSICS


class Template:
    """A loaded template plus the deployment facts intrinsics need (stack, region, endpoint)."""

    def __init__(
        self,
        document: Mapping[str, Any],
        *,
        base_dir: Path,
        stack_name: str = STACK_NAME,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        endpoint_url: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.document = document
        self.base_dir = base_dir
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.endpoint_url = endpoint_url
        self.resources: dict[str, dict[str, Any]] = dict(document.get("Resources") or {})
        self._parameters = self._parameter_values(parameters or {})
        self._conditions: dict[str, bool] = {}
        # (logical id, attribute) -> value, for what only the created resource knows (a table's
        # StreamArn holds its creation time); ``resources.create_tables`` records them.
        self._created_attributes: dict[tuple[str, str], str] = {}

    @classmethod
    def load(cls, path: Path | None = None, **kwargs: Any) -> Template:
        path = path or default_template_path()
        return cls(load_yaml(path.read_text(encoding="utf-8")), base_dir=path.resolve().parent, **kwargs)

    # -------------------------------------------------------------- parameters and conditions
    def _parameter_values(self, overrides: Mapping[str, str]) -> dict[str, Any]:
        declared = self.document.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise TemplateError(f"the template has no parameter {', '.join(map(repr, unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                raw = overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                continue  # referencing it raises
            text = as_text(raw)
            kind = str(spec.get("Type", "String"))
            values[name] = text.split(",") if kind.startswith("List<") or kind == "CommaDelimitedList" else text
        return values

    def condition(self, name: str) -> bool:
        """The value of a named condition (memoised)."""
        if name not in self._conditions:
            conditions = self.document.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            value = self.resolve(conditions[name])
            if not isinstance(value, bool):
                raise TemplateError(f"condition {name!r} is not a boolean: {value!r}")
            self._conditions[name] = value
        return self._conditions[name]

    def is_active(self, logical_id: str) -> bool:
        """False when the resource's ``Condition`` does not hold."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(logical id, raw properties)`` of every active resource of a type, in template order."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type and self.is_active(logical_id):
                yield logical_id, resource.get("Properties") or {}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties with every intrinsic resolved."""
        return self.resolve(self.resources[logical_id].get("Properties") or {})

    # -------------------------------------------------------------- names, refs and attributes
    def _type(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"unknown resource {logical_id!r}")
        return self.resources[logical_id]["Type"]

    def physical_name(self, logical_id: str) -> str:
        """The template's explicit name, else ``<stack>-<logical id lower-cased>`` (``.fifo`` kept)."""
        resource_type = self._type(logical_id)
        props = self.resources[logical_id].get("Properties") or {}
        name_property = _NAME_PROPERTY.get(resource_type)
        if name_property and name_property in props:
            return as_text(self.resolve(props[name_property]))
        name = f"{self.stack_name}-{logical_id.lower()}"
        fifo = props.get("FifoQueue") or props.get("FifoTopic")
        return f"{name}.fifo" if fifo is True or fifo == "true" else name

    def ref(self, logical_id: str) -> str:
        """What ``!Ref`` returns: a queue's URL, a topic's or layer's ARN, otherwise the name."""
        resource_type = self._type(logical_id)
        name = self.physical_name(logical_id)
        if resource_type == "AWS::SQS::Queue":
            base = self.endpoint_url or f"https://sqs.{self.region}.amazonaws.com"
            return f"{base.rstrip('/')}/{self.account_id}/{name}"
        if resource_type in ("AWS::SNS::Topic", "AWS::Serverless::LayerVersion"):
            return self.get_att(logical_id, "Arn")
        return name

    def record_attribute(self, logical_id: str, attribute: str, value: str) -> None:
        """What ``!GetAtt logical_id.attribute`` gives from now on: a value only the created
        resource knows, such as a table's ``StreamArn`` (it holds the stream's creation time)."""
        self._type(logical_id)
        self._created_attributes[(logical_id, attribute)] = value

    def get_att(self, logical_id: str, attribute: str) -> str:
        """``!GetAtt`` for the attributes the local stack knows (Arn, QueueName, QueueUrl, a
        created table's StreamArn, ...)."""
        resource_type = self._type(logical_id)
        if (logical_id, attribute) in self._created_attributes:
            return self._created_attributes[(logical_id, attribute)]
        if (resource_type, attribute) == ("AWS::DynamoDB::Table", "StreamArn"):
            if not (self.resources[logical_id].get("Properties") or {}).get("StreamSpecification"):
                raise TemplateError(f"!GetAtt {logical_id}.StreamArn: the table has no StreamSpecification")
            raise TemplateError(
                f"!GetAtt {logical_id}.StreamArn is known once the table exists (resources.create_tables records it)"
            )
        name = self.physical_name(logical_id)
        if attribute == "Arn" and resource_type in _ARN_FORMAT:
            return _ARN_FORMAT[resource_type].format(region=self.region, account=self.account_id, name=name)
        if (resource_type, attribute) in (("AWS::SQS::Queue", "QueueName"), ("AWS::SNS::Topic", "TopicName")):
            return name
        if (resource_type, attribute) in (("AWS::SQS::Queue", "QueueUrl"), ("AWS::SNS::Topic", "TopicArn")):
            return self.ref(logical_id)
        raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not supported locally")

    def _pseudo(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local",
            "AWS::NoValue": _NO_VALUE,
        }
        if name not in pseudo:
            raise TemplateError(f"unknown pseudo parameter {name!r}")
        return pseudo[name]

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self._parameters:
            return self._parameters[name]
        if name in (self.document.get("Parameters") or {}):
            raise TemplateError(f"parameter {name!r} has no default and no value")
        return self.ref(name)

    # -------------------------------------------------------------- intrinsics
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside ``value`` (returns a new structure)."""
        if isinstance(value, dict):
            if _is_intrinsic(value):
                key, argument = next(iter(value.items()))
                return self.INTRINSICS[key](self, argument)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _NO_VALUE}
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not _NO_VALUE]
        return value

    def _fn_get_att(self, argument: Any) -> str:
        logical_id, attribute = self.resolve(argument)
        return self.get_att(logical_id, attribute)

    def _fn_sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        variables = self.resolve(variables)

        def substitute(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return as_text(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, attribute = expression.split(".", 1)
                return self.get_att(logical_id, attribute)
            return as_text(self._ref(expression))

        return re.sub(r"\$\{([^}]+)\}", substitute, text)

    def _fn_join(self, argument: Any) -> str:
        delimiter, items = self.resolve(argument)
        return delimiter.join(as_text(item) for item in items)

    def _fn_select(self, argument: Any) -> Any:
        index, items = self.resolve(argument)
        return items[int(index)]

    def _fn_split(self, argument: Any) -> list[str]:
        delimiter, text = self.resolve(argument)
        return text.split(delimiter)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _fn_equals(self, argument: Any) -> bool:
        left, right = self.resolve(argument)
        return as_text(left) == as_text(right)

    def _fn_not(self, argument: Any) -> bool:
        (value,) = self.resolve(argument)
        return not value

    def _fn_and(self, argument: Any) -> bool:
        return all(self.resolve(argument))

    def _fn_or(self, argument: Any) -> bool:
        return any(self.resolve(argument))

    def _fn_find_in_map(self, argument: Any) -> Any:
        map_name, top, second = self.resolve(argument)
        return self.resolve((self.document.get("Mappings") or {})[map_name][top][second])

    # The intrinsic functions ``resolve`` knows, by name: each is called with the template and
    # the function's argument (unresolved).
    INTRINSICS: ClassVar[Mapping[str, Callable[[Template, Any], Any]]] = MappingProxyType(
        {
            "Ref": _ref,
            "Condition": condition,
            "Fn::GetAtt": _fn_get_att,
            "Fn::Sub": _fn_sub,
            "Fn::Join": _fn_join,
            "Fn::Select": _fn_select,
            "Fn::Split": _fn_split,
            "Fn::If": _fn_if,
            "Fn::Equals": _fn_equals,
            "Fn::Not": _fn_not,
            "Fn::And": _fn_and,
            "Fn::Or": _fn_or,
            "Fn::FindInMap": _fn_find_in_map,
        }
    )

    # -------------------------------------------------------------- tables
    def table_specs(self) -> dict[str, TableSpec]:
        """Every active ``AWS::DynamoDB::Table``, keyed by logical id."""
        specs: dict[str, TableSpec] = {}
        for logical_id, _ in self.resources_of_type("AWS::DynamoDB::Table"):
            props = self.properties(logical_id)
            ttl = props.get("TimeToLiveSpecification") or {}
            specs[logical_id] = TableSpec(
                logical_id=logical_id,
                name=self.physical_name(logical_id),
                key_schema=props["KeySchema"],
                attribute_definitions=props["AttributeDefinitions"],
                billing_mode=props.get("BillingMode", "PROVISIONED"),
                global_secondary_indexes=props.get("GlobalSecondaryIndexes", []),
                local_secondary_indexes=props.get("LocalSecondaryIndexes", []),
                provisioned_throughput=props.get("ProvisionedThroughput"),
                stream_specification=props.get("StreamSpecification"),
                ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") in (True, "true") else None,
            )
        return specs

    # -------------------------------------------------------------- functions
    def functions(self) -> dict[str, FunctionSpec]:
        """Every active ``AWS::Serverless::Function``, with Globals merged, keyed by logical id."""
        globals_ = (self.document.get("Globals") or {}).get("Function") or {}
        specs: dict[str, FunctionSpec] = {}
        for logical_id, raw in self.resources_of_type("AWS::Serverless::Function"):
            merged = merge_globals(globals_, raw)
            variables = self.resolve((merged.get("Environment") or {}).get("Variables") or {})
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=self.physical_name(logical_id),
                arn=self.get_att(logical_id, "Arn"),
                code_dir=(self.base_dir / as_text(self.resolve(merged["CodeUri"]))).resolve(),
                handler=as_text(self.resolve(merged["Handler"])),
                memory_mb=int(self.resolve(merged.get("MemorySize", 128))),
                timeout_s=int(self.resolve(merged.get("Timeout", 3))),
                environment={key: as_text(value) for key, value in variables.items()},
                events=dict(merged.get("Events") or {}),
            )
        return specs

    def function_id_for_arn(self, arn: str) -> str:
        """The logical id of the function an ARN (e.g. an authorizer's FunctionArn) names."""
        for logical_id, spec in self.functions().items():
            if spec.arn == arn:
                return logical_id
        raise TemplateError(f"no function in the template has ARN {arn!r}")


def merged_environment(functions: Mapping[str, FunctionSpec]) -> dict[str, str]:
    """The union of every function's variables (one process runs them all).

    Raises ``TemplateError`` when two functions give one variable different values.
    """
    merged: dict[str, str] = {}
    owner: dict[str, str] = {}
    for logical_id, spec in functions.items():
        for name, value in spec.environment.items():
            if name in merged and merged[name] != value:
                raise TemplateError(
                    f"{owner[name]} and {logical_id} give {name} different values; "
                    "the local stack runs every function in one process and needs one value"
                )
            merged.setdefault(name, value)
            owner.setdefault(name, logical_id)
    return merged


_fresh_imports = itertools.count(1)


def import_handler(spec: FunctionSpec, instance: int = 0, *, fresh: bool = False) -> Handler:
    """Import ``spec``'s handler from its CodeUri under a module name unique to the function.

    Every function file is ``app.py``; importing them all as ``app`` would collide. ``instance``
    loads a further independent copy (a separate execution environment); copies are cached.
    ``fresh`` loads a new copy that is never reused (a test's own execution environment, with
    its own composition root).
    """
    module_path, _, attribute = spec.handler.rpartition(".")
    if not module_path:
        raise TemplateError(f"{spec.logical_id}: Handler {spec.handler!r} is not module.function")
    module_name = f"tollgate_local_fn_{spec.logical_id.lower()}" + (f"_{instance}" if instance else "")
    if fresh:
        module_name += f"_fresh{next(_fresh_imports)}"
    module = sys.modules.get(module_name)
    if module is None:
        source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if not source.is_file():
            raise TemplateError(f"{spec.logical_id}: {source} does not exist")
        module_spec = importlib.util.spec_from_file_location(module_name, source)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        if fresh:  # never reused: do not keep it (and its root) alive
            del sys.modules[module_name]
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise TemplateError(f"{spec.logical_id}: {spec.handler!r} is not a callable in {module.__file__}")
    return handler


# ------------------------------------------------------------------ module-level conveniences
@cache
def default_template() -> Template:
    """The project's template.yaml with AWS-style (non-local) endpoints, loaded once."""
    return Template.load()


def iter_functions(template: Template | None = None) -> Iterator[FunctionSpec]:
    """Every function the template declares."""
    yield from (template or default_template()).functions().values()


def load_handler(function_logical_id: str, template: Template | None = None) -> Handler:
    """Import a function's handler (``CodeUri`` + ``Handler``) and return the callable."""
    functions = (template or default_template()).functions()
    if function_logical_id not in functions:
        raise TemplateError(f"no function {function_logical_id!r} in the template")
    return import_handler(functions[function_logical_id])


def table_specs(template: Template | None = None) -> dict[str, TableSpec]:
    """Logical id -> key schema, attribute definitions, indexes and TTL attribute of every table."""
    return (template or default_template()).table_specs()
