"""Repositories for tenants, meters and API keys (pynamodb), plus the small read caches the
hot paths use. Each maps between a pynamodb model and a domain record."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from tollgate.domain.countries import Address
from tollgate.domain.errors import Conflict
from tollgate.domain.keys import Scope
from tollgate.domain.meters import DEFAULT_SCALE, Aggregation, Rounding
from tollgate.domain.records import ApiKeyRecord, Meter, Tenant

from . import cursors
from .models import ApiKeyModel, MeterModel, TenantModel

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    return cursors.encode(last_key) if last_key else None


NOT_A_CURSOR = "not a cursor issued by this API for this list; start again without one"
MAX_CURSOR_KEY_LENGTH = 256  # every key this API pages over is far shorter


def key_names(model: type[Model]) -> tuple[str, ...]:
    """The key attributes of a model's table (hash, then range), as a cursor must hold them."""
    names = [model._hash_keyname]  # noqa: SLF001 - pynamodb has no public accessor
    if model._range_keyname:  # noqa: SLF001
        names.append(model._range_keyname)  # noqa: SLF001
    return tuple(names)


def decode_cursor(cursor: str | None, model: type[Model]) -> dict[str, Any] | None:
    """The ``ExclusiveStartKey`` a cursor of ``model``'s list stands for. Raises ValueError for
    anything but what ``encode_cursor`` gives for that table: base64url of UTF-8 JSON holding
    exactly the table's key attributes, each ``{"S": <1 to 256 characters>}`` (every key
    attribute of a listed table is a string) - so no crafted cursor reaches DynamoDB."""
    if not cursor:
        return None
    try:
        data = cursors.decode(cursor)
    except ValueError:
        raise ValueError(NOT_A_CURSOR) from None
    names = key_names(model)
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise ValueError(NOT_A_CURSOR)
    for value in data.values():
        if not isinstance(value, dict) or list(value) != ["S"]:
            raise ValueError(NOT_A_CURSOR)
        text = value["S"]
        if not isinstance(text, str) or not 0 < len(text) <= MAX_CURSOR_KEY_LENGTH:
            raise ValueError(NOT_A_CURSOR)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: DynamoDB takes UTF-8 only
            raise ValueError(NOT_A_CURSOR) from None
    return data


def fields_of(obj: Any, names: Iterable[str], **converted: Any) -> dict[str, Any]:
    """``obj``'s attributes ``names`` as keyword arguments, ``converted`` ones given instead:
    the mapping between a domain record and a pynamodb model, field by field."""
    return {n: converted[n] if n in converted else getattr(obj, n) for n in names}


def record_fields(record_type: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(record_type))


def get_item(model: type[M], key: str, convert: Callable[[M], T], consistent: bool = False) -> T | None:
    """The record of ``key``, or None."""
    try:
        return convert(model.get(key, consistent_read=consistent))
    except model.DoesNotExist:
        return None


def scan_page(model: type[M], limit: int, cursor: str | None, convert: Callable[[M], T]) -> tuple[list[T], str | None]:
    """One page of a table's records and the cursor of the next (None on the last page)."""
    result = model.scan(limit=limit, last_evaluated_key=decode_cursor(cursor, model))
    items = [convert(m) for m in result]
    return items, encode_cursor(result.last_evaluated_key)


def _is_conditional_failure(exc: PutError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


# ------------------------------------------------------------------ tenants
_TENANT = record_fields(Tenant)


def _tenant(m: TenantModel) -> Tenant:
    return Tenant(
        **fields_of(m, _TENANT, billing_address=Address.from_dict(m.billing_address), tax_exempt=bool(m.tax_exempt))
    )


def _tenant_model(t: Tenant) -> TenantModel:
    address = t.billing_address.as_dict() if t.billing_address else None
    return TenantModel(
        **fields_of(t, _TENANT, billing_address=address),
        search_pk=SEARCH_PK,
        id_key=search_key(t.id),
        name_key=search_key(t.name),
    )


SEARCH_PK = "T"
SEARCH_PHASES = ("id", "name")
"""A search lists the tenants whose id starts with the prefix, then those whose name does
(and whose id does not: each tenant once)."""


def search_key(text: str) -> str:
    """What a prefix is matched against: case-insensitive."""
    return text.casefold()


def _search_index(phase: str) -> tuple[Any, Any, str]:
    if phase == "id":
        return TenantModel.by_id_key, TenantModel.id_key, "id_key"
    return TenantModel.by_name_key, TenantModel.name_key, "name_key"


def _search_cursor(cursor: str | None, prefix: str) -> tuple[str, dict[str, Any] | None]:
    """The phase and ExclusiveStartKey a search cursor stands for, rebuilt from what it holds
    (the prefix, the phase, the last sort key and id); ValueError for any other cursor."""
    if not cursor:
        return SEARCH_PHASES[0], None
    try:
        data = cursors.decode(cursor)
    except ValueError:
        raise ValueError(NOT_A_CURSOR) from None
    if not isinstance(data, dict) or data.get("q") != prefix or data.get("p") not in SEARCH_PHASES:
        raise ValueError(NOT_A_CURSOR)
    last = data.get("k"), data.get("id")
    if last == (None, None):
        return data["p"], None
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_CURSOR_KEY_LENGTH for v in last):
        raise ValueError(NOT_A_CURSOR)
    attr = _search_index(data["p"])[2]
    return data["p"], {"id": {"S": last[1]}, "search_pk": {"S": SEARCH_PK}, attr: {"S": last[0]}}


class TenantRepo:
    def create(self, tenant: Tenant) -> None:
        try:
            _tenant_model(tenant).save(condition=TenantModel.id.does_not_exist())
        except PutError as exc:
            if _is_conditional_failure(exc):
                raise Conflict(f"tenant {tenant.id!r} already exists") from None
            raise

    def replace(self, tenant: Tenant) -> None:
        _tenant_model(tenant).save(condition=TenantModel.id.exists())

    def get(self, tenant_id: str, consistent: bool = False) -> Tenant | None:
        return get_item(TenantModel, tenant_id, _tenant, consistent)

    def get_many(self, tenant_ids: Sequence[str]) -> dict[str, Tenant]:
        """BatchGetItem, 100 keys a request (pynamodb retries unprocessed keys)."""
        return {m.id: _tenant(m) for m in TenantModel.batch_get(list(dict.fromkeys(tenant_ids)))}

    def list(self, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        return scan_page(TenantModel, limit, cursor, _tenant)

    def search(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
        """Tenants whose id or name starts with ``prefix`` (case-insensitive): Queries of the
        ``by_id_key`` then the ``by_name_key`` index, never a Scan."""
        q = search_key(prefix)
        phase, start = _search_cursor(cursor, q)
        found: list[Tenant] = []
        while True:
            index, attr, name = _search_index(phase)
            result = index.query(SEARCH_PK, attr.startswith(q), limit=limit - len(found), last_evaluated_key=start)
            found += [_tenant(m) for m in result if phase == "id" or not search_key(m.id).startswith(q)]
            last = result.last_evaluated_key
            if last:
                return found, cursors.encode({"q": q, "p": phase, "k": last[name]["S"], "id": last["id"]["S"]})
            if phase == SEARCH_PHASES[-1]:
                return found, None
            phase, start = SEARCH_PHASES[1], None
            if len(found) >= limit:
                return found, cursors.encode({"q": q, "p": phase})


# ------------------------------------------------------------------ meters
_METER = record_fields(Meter)


def _meter(m: MeterModel) -> Meter:
    return Meter(
        **fields_of(
            m,
            _METER,
            aggregation=Aggregation(m.aggregation),
            group_by=list(m.group_by or []),
            scale=DEFAULT_SCALE if m.scale is None else int(m.scale),
            rounding=Rounding(m.rounding or Rounding.REJECT.value),
        )
    )


def _meter_model(meter: Meter) -> MeterModel:
    return MeterModel(
        **fields_of(
            meter,
            _METER,
            aggregation=meter.aggregation.value,
            group_by=meter.group_by or None,
            rounding=meter.rounding.value,
        )
    )


class MeterRepo:
    def create(self, meter: Meter) -> None:
        model = _meter_model(meter)
        try:
            model.save(condition=MeterModel.key.does_not_exist())
        except PutError as exc:
            if _is_conditional_failure(exc):
                raise Conflict(f"meter {meter.key!r} already exists") from None
            raise

    def get(self, key: str) -> Meter | None:
        return get_item(MeterModel, key, _meter)

    def list(self, limit: int, cursor: str | None) -> tuple[list[Meter], str | None]:
        return scan_page(MeterModel, limit, cursor, _meter)


# ------------------------------------------------------------------ API keys
_KEY = record_fields(ApiKeyRecord)


def _key(m: ApiKeyModel) -> ApiKeyRecord:
    return ApiKeyRecord(**fields_of(m, _KEY, scope=Scope(m.scope)))


class ApiKeyRepo:
    def create(self, record: ApiKeyRecord) -> None:
        new = [n for n in _KEY if n != "revoked_at"]  # a new key is not revoked
        ApiKeyModel(**fields_of(record, new, scope=record.scope.value)).save(condition=ApiKeyModel.id.does_not_exist())

    def get(self, key_id: str, consistent: bool = False) -> ApiKeyRecord | None:
        return get_item(ApiKeyModel, key_id, _key, consistent)

    def list(self, limit: int, cursor: str | None) -> tuple[list[ApiKeyRecord], str | None]:
        return scan_page(ApiKeyModel, limit, cursor, _key)

    def revoke(self, record: ApiKeyRecord) -> None:
        model = ApiKeyModel(id=record.id)
        model.update(actions=[ApiKeyModel.revoked_at.set(record.revoked_at)], condition=ApiKeyModel.id.exists())


# ------------------------------------------------------------------ read caches
