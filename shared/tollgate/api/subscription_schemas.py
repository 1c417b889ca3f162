"""Request and response schemas of ``/v1/tenants/{id}/subscriptions`` (pydantic): they validate
the body, naming the field (422), and document it in OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from tollgate.api.schemas import Strict
from tollgate.domain.alert_types import ALERT_TYPES, is_alert_type
from tollgate.domain.subscriptions import (
    MAX_SUBSCRIPTIONS_PER_TENANT,
    Protocol,
    Status,
    Subscription,
    endpoint_problem,
    listed_types,
    types_problem,
)

ENDPOINT_DOC = (
    "Where alerts go: an e-mail address (`email`), an `https://` or `http://` URL (`https`, `http`: "
    "SNS POSTs each alert there, after the endpoint confirms the subscription), or an SQS queue ARN "
    "`arn:aws:sqs:<region>:<account>:<name>` (`sqs`: the queue's policy must let the tenant's topic, "
    "`topic_arn`, send to it)."
)


def _document_types(schema: dict[str, Any]) -> None:
    types = schema.get("properties", {}).get("types", {})
    for option in types.get("anyOf", [types]):
        if option.get("type") == "array":
            option["items"] = {"type": "string", "enum": list(ALERT_TYPES)}
            option["uniqueItems"] = True


def _alert_type(v: str) -> str:
    if not is_alert_type(v):
        raise ValueError(f"{v!r} is not an alert type; the types are {', '.join(ALERT_TYPES)}")
    return v


AlertType = Annotated[str, AfterValidator(_alert_type)]


class SubscriptionCreate(Strict):
    model_config = {**Strict.model_config, "json_schema_extra": _document_types}

    protocol: Protocol
    endpoint: str = Field(min_length=1, max_length=2048, description=ENDPOINT_DOC)
    types: list[AlertType] | None = Field(
        default=None,
        min_length=1,
        description=f"The alert types to receive: {', '.join(ALERT_TYPES)}. Leave out for every type, "
        "including types added later (such a subscription has no SNS filter policy).",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_protocol(cls, v: str, info: ValidationInfo) -> str:
        protocol = info.data.get("protocol")
        if protocol is not None and (problem := endpoint_problem(protocol, v)):
            raise ValueError(problem)
        return v

    @field_validator("types")
    @classmethod
    def _known_types(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (found := types_problem(v)):  # each entry is known: a repeat is what is left
            raise ValueError(found[1])
        return v


class SubscriptionOut(BaseModel):
    id: str
    protocol: Protocol
    endpoint: str
    types: list[str]
    status: Status = Field(
        description="`pending_confirmation` until the endpoint confirms (SNS sends e-mail and HTTP(S) "
        "endpoints a confirmation first; an unconfirmed subscription receives nothing, and SNS drops it "
        "after 3 days), then `confirmed`."
    )
    created_at: datetime
    topic_arn: str | None = Field(
        default=None,
        description="The tenant's SNS topic: what an SQS queue's policy must allow (`aws:SourceArn`), "
        "and the `TopicArn` of each delivered message.",
    )

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(
            id=s.id,
            protocol=s.protocol,
            endpoint=s.endpoint,
            types=list(listed_types(s.types)),
            status=s.status,
            created_at=s.created_at,
            topic_arn=s.topic_arn,
        )


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut] = Field(
        description=f"Oldest first; a tenant has at most {MAX_SUBSCRIPTIONS_PER_TENANT}.",
        max_length=MAX_SUBSCRIPTIONS_PER_TENANT,
    )
