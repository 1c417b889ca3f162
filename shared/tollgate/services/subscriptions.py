"""Tenants' alert subscriptions: a topic per tenant, made on its first subscription, and an SNS
subscription per tenant subscription, filtered by alert type (docs/alerts.md, "Delivery").

Creating one, in the order that leaves nothing half-written:

1. the tenant's topic (CreateTopic is idempotent by name; its ARN is kept on the tenant's
   topic record);
2. ``reserve``: the record (no SNS ARN yet) and the tenant's count + 1, in one transaction whose
   conditions are the cap (count < 10) and a free endpoint - two racing requests cannot make an
   eleventh;
3. ``Subscribe``, with the filter policy; if SNS refuses, ``release`` undoes step 2;
4. ``attach``: the ARN and status into the record; if that fails, unsubscribe and release.

A process that dies between steps 2 and 4 leaves a record without its ARN (shown as
``pending_confirmation``); deleting it finds the SNS subscription by its endpoint, which SNS
keeps unique per topic, and removes both.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tollgate.domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from tollgate.domain.subscriptions import (
    MAX_SUBSCRIPTIONS_PER_TENANT,
    Protocol,
    Status,
    Subscription,
    canonical_types,
    endpoint_problem,
    filter_policy,
    new_subscription_id,
    topic_name,
    types_problem,
)

from .ports import (
    Clock,
    EndpointRejected,
    EndpointTaken,
    FilterPolicyQuotaReached,
    SubscriptionCapReached,
    SubscriptionChannels,
    SubscriptionStore,
)
from .tenants import TenantService

log = logging.getLogger(__name__)


class SubscriptionService:
    def __init__(
        self,
        tenants: TenantService,
        store: SubscriptionStore,
        channels: SubscriptionChannels,
        clock: Clock,
        *,
        topic_prefix: str,
        cap: int = MAX_SUBSCRIPTIONS_PER_TENANT,
    ) -> None:
        self._tenants, self._store, self._channels, self._clock = tenants, store, channels, clock
        self._prefix, self._cap = topic_prefix, cap

    # ---------------------------------------------------------------- create
    def create(
        self, tenant_id: str, protocol: Protocol, endpoint: str, types: Sequence[str] | None = None
    ) -> Subscription:
        check(protocol, endpoint, types)
        self._tenants.get_tenant(tenant_id)  # 404 for a tenant that does not exist
        topic_arn = self._topic_of(tenant_id)
        subscription = Subscription(
            id=new_subscription_id(),
            tenant_id=tenant_id,
            protocol=protocol,
            endpoint=endpoint,
            types=canonical_types(types),
            created_at=self._clock.now(),
        )
        try:
            self._store.reserve(subscription, self._cap)
        except SubscriptionCapReached:
            detail = f"tenant {tenant_id!r} has {self._cap} subscriptions, the most a tenant may have; delete one first"
            raise ValidationFailed(detail, [FieldError("subscriptions", detail)]) from None
        except EndpointTaken:
            detail = f"tenant {tenant_id!r} already has a {protocol.value} subscription to this endpoint"
            raise Conflict(detail, [FieldError("endpoint", detail)]) from None
        try:
            arn, status = self._channels.subscribe(topic_arn, protocol, endpoint, filter_policy(subscription.types))
        except EndpointRejected as refused:
            self._store.release(subscription)
            raise ValidationFailed(str(refused), [FieldError("endpoint", str(refused))]) from None
        except FilterPolicyQuotaReached:
            self._store.release(subscription)
            detail = (
                "the account's SNS filter policies are all in use (10,000 by default), so a subscription to some "
                "types cannot be made now; leave `types` out to receive every type, or ask the operator to raise "
                "the quota"
            )
            raise ValidationFailed(detail, [FieldError("types", detail)]) from None
        except BaseException:
            self._store.release(subscription)
            raise
        attached = subscription.attached(arn, status)
        try:
            recorded = self._store.attach(attached)
        except BaseException:
            self._undo(attached)
            raise
        if not recorded:  # deleted while it was being made: SNS must not keep it either
            self._channels.unsubscribe(arn)
            raise NotFound(f"subscription {subscription.id!r} was deleted while it was being created")
        return attached

    def _topic_of(self, tenant_id: str) -> str:
        found = self._store.topic(tenant_id)
        if found is not None and found.topic_arn:
            return found.topic_arn
        arn = self._channels.ensure_topic(topic_name(self._prefix, tenant_id))
        self._store.set_topic(tenant_id, arn)
        return arn

    def _undo(self, subscription: Subscription) -> None:
        try:
            if subscription.subscription_arn:
                self._channels.unsubscribe(subscription.subscription_arn)
            self._store.release(subscription)
        except Exception:  # the original error is the one to report; this one is logged
            log.exception("could not undo subscription %s of tenant %s", subscription.id, subscription.tenant_id)

    # ---------------------------------------------------------------- read
    def list(self, tenant_id: str) -> list[Subscription]:
        """The tenant's subscriptions, oldest first. A pending one is checked with SNS (at most
        10 calls), and recorded as confirmed once its endpoint has confirmed it."""
        self._tenants.get_tenant(tenant_id)
        return [self._fresh(s) for s in self._store.list(tenant_id)]

    def get(self, tenant_id: str, subscription_id: str) -> Subscription:
        found = self._store.get(tenant_id, subscription_id)
        if found is None:
            raise NotFound(f"subscription {subscription_id!r} not found")
        return found

    def _fresh(self, subscription: Subscription) -> Subscription:
        if subscription.status is Status.CONFIRMED or not subscription.subscription_arn:
            return subscription
        if self._channels.status(subscription.subscription_arn) is Status.CONFIRMED:
            self._store.set_status(subscription.tenant_id, subscription.id, Status.CONFIRMED)
            return subscription.attached(subscription.subscription_arn, Status.CONFIRMED)
        return subscription

    # ---------------------------------------------------------------- delete
    def delete(self, tenant_id: str, subscription_id: str) -> None:
        """Unsubscribe in SNS, then delete the record (and uncount it). A crash between the two
        leaves the record; deleting again finishes (SNS's Unsubscribe is idempotent)."""
        subscription = self.get(tenant_id, subscription_id)
        arn = subscription.subscription_arn
        if arn is None:  # never attached: find it by its endpoint, unique on the topic
            topic = self._store.topic(tenant_id)
            if topic is not None and topic.topic_arn:
                arn = self._channels.find(topic.topic_arn, subscription.protocol, subscription.endpoint)
        if arn is not None:
            self._channels.unsubscribe(arn)
        if not self._store.release(subscription):
            raise NotFound(f"subscription {subscription_id!r} not found")


def check(protocol: Protocol, endpoint: str, types: Sequence[str] | None) -> None:
    """ValidationFailed naming each bad field (the API's schema checks the same first)."""
    errors: list[FieldError] = []
    if problem := endpoint_problem(protocol, endpoint):
        errors.append(FieldError("endpoint", problem))
    if types is not None and (found := types_problem(types)):
        index, why = found
        errors.append(FieldError("types" if index is None else f"types[{index}]", why))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors)
