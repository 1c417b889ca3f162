"""A tenant's alert subscriptions: who receives its alerts, of which types. Pure; no AWS.

Each tenant with a subscription has an SNS topic of its own (``topic_name``), and each
subscription is an SNS subscription of that topic. One that names its ``types`` has a filter
policy on the ``type`` message attribute (``filter_policy``); one that does not receives every
type, those added later included, with no filter policy - SNS allows 10,000 filter policies per
account by default, so the default subscription must not spend one. docs/alerts.md, "Delivery"
has the design.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from urllib.parse import urlsplit

from .alert_types import ALERT_TYPES

MAX_SUBSCRIPTIONS_PER_TENANT = 10
"""A tenant's topic carries at most this many subscriptions, so at most this many filter
policies (SNS allows 200 per topic by default)."""

MAX_URL_LENGTH = 2048
TOPIC_NAME_MAX = 256  # SNS: 1 to 256 letters, digits, '_' and '-'


class Protocol(str, Enum):
    EMAIL = "email"
    HTTPS = "https"
    HTTP = "http"
    SQS = "sqs"


class Status(str, Enum):
    PENDING_CONFIRMATION = "pending_confirmation"
    CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Subscription:
    id: str
    tenant_id: str
    protocol: Protocol
    endpoint: str
    types: tuple[str, ...] | None
    """The alert types it receives, in the order of ``ALERT_TYPES``; None: every type, those
    added later included."""
    created_at: datetime
    status: Status = Status.PENDING_CONFIRMATION
    subscription_arn: str | None = None
    """The SNS subscription; None between the reservation of the record and the Subscribe call
    (or after a crash there: deleting the subscription then finds it by its endpoint)."""

    @property
    def topic_arn(self) -> str | None:
        """The tenant's topic: a subscription's ARN is its topic's ARN and ``:<uuid>``."""
        return self.subscription_arn.rsplit(":", 1)[0] if self.subscription_arn else None

    def attached(self, subscription_arn: str, status: Status) -> Subscription:
        return replace(self, subscription_arn=subscription_arn, status=status)


def new_subscription_id() -> str:
    return f"sub_{secrets.token_hex(8)}"


SUBSCRIPTION_ID_PATTERN = r"^sub_[0-9a-f]{16}$"


# ------------------------------------------------------------------ validation
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"  # local part: dot-atoms
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"  # host: labels, then a TLD
)
_SQS_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):sqs:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,80})")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def endpoint_problem(protocol: Protocol, endpoint: str) -> str | None:
    """Why ``endpoint`` cannot receive ``protocol`` deliveries, or None when it can."""
    if protocol is Protocol.EMAIL:
        if len(endpoint) > 254 or not _EMAIL.fullmatch(endpoint) or len(endpoint.split("@")[0]) > 64:
            return f"{endpoint!r} is not an e-mail address"
        return None
    if protocol is Protocol.SQS:
        if endpoint.endswith(".fifo"):
            return "a FIFO queue cannot subscribe to a standard SNS topic; give a standard queue's ARN"
        if not _SQS_ARN.fullmatch(endpoint):
            return f"{endpoint!r} is not an SQS queue ARN (arn:aws:sqs:<region>:<12-digit account>:<queue name>)"
        return None
    return _url_problem(protocol.value, endpoint)


def _url_problem(scheme: str, endpoint: str) -> str | None:
    wanted = f"an {scheme}:// URL"
    if len(endpoint) > MAX_URL_LENGTH:
        return f"is longer than {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in endpoint):
        return f"{endpoint!r} is not {wanted}: it holds spaces or control characters"
    try:
        parts = urlsplit(endpoint)
        port = parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return f"{endpoint!r} is not {wanted}"
    if parts.scheme.lower() != scheme or not endpoint.lower().startswith(f"{scheme}://"):
        return f"{endpoint!r} is not {wanted}"
    host = parts.hostname or ""
    if not host or not (_HOST.fullmatch(host) or _is_ip_literal(host)):
        return f"{endpoint!r} is not {wanted}: it names no host"
    if port == 0:
        return f"{endpoint!r} is not {wanted}: port 0"
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def types_problem(types: Sequence[str]) -> tuple[int | None, str] | None:
    """(index of the offending entry or None for the list, why), or None when ``types`` is good."""
    if not types:
        return None, "give at least one type, or leave `types` out for every type"
    seen: set[str] = set()
    for index, value in enumerate(types):
        if value not in ALERT_TYPES:
            return index, f"{value!r} is not an alert type; the types are {', '.join(ALERT_TYPES)}"
        if value in seen:
            return index, f"{value!r} is listed twice"
        seen.add(value)
    return None


def canonical_types(types: Iterable[str] | None) -> tuple[str, ...] | None:
    """``types`` in the order of ``ALERT_TYPES``; None (every type) stays None."""
    if types is None:
        return None
    wanted = set(types)
    return tuple(t for t in ALERT_TYPES if t in wanted)


def listed_types(types: tuple[str, ...] | None) -> tuple[str, ...]:
    """The types a subscription receives today."""
    return ALERT_TYPES if types is None else types


# ------------------------------------------------------------------ SNS
def filter_policy(types: Sequence[str] | None) -> str | None:
    """The SNS filter policy (on message attributes) of a subscription to these types; None
    for every type. The topic is the tenant's own, so no tenant condition is needed, and one
    would make every subscription spend one of the account's 10,000 filter policies."""
    if types is None:
        return None
    return json.dumps({"type": list(types)}, separators=(",", ":"))


_ESCAPES = {"_": "__", ".": "_-"}
_HASH_HEX = 32  # 128 bits of SHA-256
TOPIC_PREFIX_MAX = TOPIC_NAME_MAX - len("-_h") - _HASH_HEX
_PREFIX = re.compile(rf"[A-Za-z0-9_-]{{1,{TOPIC_PREFIX_MAX}}}")


def topic_name(prefix: str, tenant_id: str) -> str:
    """The tenant's SNS topic name: ``<prefix>-<tenant id>``, where ``_`` is written ``__`` and
    ``.`` (which SNS names may not hold) ``_-``. One name per tenant id and one tenant id per
    name: ``_`` followed by ``_`` or ``-`` decodes one way only. A name that would pass SNS's
    256 characters becomes ``<prefix>-_h<128 bits of SHA-256 of the id, in hex>`` (``_h``
    never comes out of the escaping, so it cannot collide with an escaped id)."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"a topic prefix is 1 to {TOPIC_PREFIX_MAX} letters, digits, '_' and '-'; not {prefix!r}")
    name = f"{prefix}-{''.join(_ESCAPES.get(c, c) for c in tenant_id)}"
    if len(name) > TOPIC_NAME_MAX:
        name = f"{prefix}-_h{hashlib.sha256(tenant_id.encode()).hexdigest()[:_HASH_HEX]}"
    return name
