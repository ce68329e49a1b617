"""Request bodies and response shapes of the subscription endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: Subscriptions one request may change (every channel x priority, with room to spare).
MAX_ENTRIES = 100


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class ScopeIn(_Body):
    """The scope of the change; patron keeps subscriptions per customer (``USER``)."""

    scope: str | None = None
    sub_scope: str | None = None


class SubscriptionIn(_Body):
    """One subscription entry as sent; its values are checked by the service."""

    channel: str | None = None
    account_id: str | None = None  # checked with the source: 8011 when no profile can hold it
    priority: str | None = None
    type: str | None = None
    org_unit_id: int | None = None
    source_name: str | None = None


class SubscriptionUpdate(_Body):
    """Body of ``POST /v2/customers/{id}/subscriptions``."""

    communication_id: int = 0
    campaign_id: int = 0
    reason: str | None = Field(default=None, max_length=500)
    scope: ScopeIn | None = None
    subscriptions: list[SubscriptionIn] = Field(min_length=1, max_length=MAX_ENTRIES)


def render_scope(scope: ScopeIn | None) -> dict[str, Any]:
    """The scope as the documented response shows it, ``set*`` flags included."""
    given = scope or ScopeIn()
    return {
        "scopeId": 0,
        "scope": "USER",
        "subScope": "NONE",
        "setCreatedOn": False,
        "setPriority": False,
        "setScopeId": False,
        "setScope": given.scope is not None,
        "setSubScope": given.sub_scope is not None,
    }


def _where(org_unit_id: int, source: str) -> dict[str, Any]:
    """``orgUnitId`` / ``sourceName`` only when they differ from org-wide / INSTORE."""
    rendered: dict[str, Any] = {}
    if org_unit_id:
        rendered["orgUnitId"] = org_unit_id
    if source != "INSTORE":
        rendered["sourceName"] = source
    return rendered


def render_change(
    channel: str, priority: str, status: str, org_unit_id: int, source: str, account_id: str
) -> dict[str, Any]:
    """One applied change, as the update response lists it."""
    return {
        "channel": channel,
        "accountId": account_id,
        "priority": priority,
        "type": status,
        **_where(org_unit_id, source),
    }


def render_state(row: Any) -> dict[str, Any]:
    """One stored subscription, as the retrieve response (and ``embed``) lists it."""
    rendered: dict[str, Any] = {
        "channel": row["channel"],
        "priority": row["priority"],
        "type": row["status"],
    }
    if row["account_id"]:
        rendered["accountId"] = row["account_id"]
    return rendered | _where(int(row["org_unit_id"]), row["source"])


def update_response(
    body: SubscriptionUpdate, changes: list[dict[str, Any]], warnings: list[dict[str, Any]]
) -> dict[str, Any]:
    """The response to an update: the request's ids and reason echoed beside the changes."""
    return {
        "scope": render_scope(body.scope),
        "subscriptions": changes,
        "campaignId": body.campaign_id,
        "communicationId": body.communication_id,
        "reason": body.reason or "",
        "warnings": warnings,
    }


def retrieve_response(
    subscriptions: list[dict[str, Any]], warnings: list[dict[str, Any]]
) -> dict[str, Any]:
    """The response to a retrieve; campaign and communication ids are always 0 there."""
    return {
        "subscriptions": subscriptions,
        "campaignId": 0,
        "communicationId": 0,
        "warnings": warnings,
    }
