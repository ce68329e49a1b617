"""Request bodies and response shapes of the subscription endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from patron.api.contract import Problem

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


def _entry(channel: str, account: str, priority: str, kind: str, unit: int, source: str) -> Any:
    return {
        "channel": channel,
        "accountId": account,
        "priority": priority,
        "type": kind,
        "orgUnitId": unit,
        "sourceName": source,
    }


#: The seed's sample request of ``POST /v2/customers/{id}/subscriptions``.
UPDATE_SAMPLE: dict[str, Any] = {
    "communicationId": -1,
    "campaignId": -1,
    "reason": "Example reason",
    "scope": {"scope": "USER", "subScope": "NONE"},
    "subscriptions": [
        _entry("EMAIL", "", "BULK", "OPTOUT", 200031782, "INSTORE"),
        _entry("MOBILE", "", "BULK", "OPTOUT", 200031782, "INSTORE"),
        _entry("EMAIL", "", "TRANS", "OPTIN", 200031782, "INSTORE"),
        _entry("MOBILE", "123", "TRANS", "OPTIN", 200031782, "WECHAT"),
    ],
}


class SubscriptionUpdate(_Body):
    """Body of ``POST /v2/customers/{id}/subscriptions``."""

    model_config = ConfigDict(json_schema_extra={"examples": [UPDATE_SAMPLE]})

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


# --- answers ------------------------------------------------------------------------------
# Named as the answers spell them. ``orgUnitId``, ``sourceName`` (and, stored, ``accountId``)
# are left out when org-wide / INSTORE / empty: the routes answer with
# ``response_model_exclude_unset=True``, so that they stay out.


class SubscriptionScope(BaseModel):
    """The scope of a change: patron keeps subscriptions per customer (``USER``)."""

    scopeId: int
    scope: str
    subScope: str
    setCreatedOn: bool
    setPriority: bool
    setScopeId: bool
    setScope: bool = Field(description="Whether the request gave a scope.")
    setSubScope: bool = Field(description="Whether the request gave a sub-scope.")


class SubscriptionChange(BaseModel):
    """One change applied."""

    channel: str = Field(description="SMS, EMAIL, WECHAT, ...")
    accountId: str = Field(description="The source account; empty for INSTORE.")
    priority: str = Field(description="TRANS (personal messages) or BULK (campaigns).")
    type: str = Field(description="OPTIN or OPTOUT.")
    orgUnitId: int | None = Field(None, description="The org unit; left out when org-wide.")
    sourceName: str | None = Field(None, description="The source; left out for INSTORE.")


class StoredSubscription(BaseModel):
    """One subscription recorded for the customer."""

    channel: str = Field(description="SMS, EMAIL, WECHAT, ...")
    priority: str = Field(description="TRANS (personal messages) or BULK (campaigns).")
    type: str = Field(description="OPTIN or OPTOUT.")
    accountId: str | None = Field(None, description="The source account; left out when none.")
    orgUnitId: int | None = Field(None, description="The org unit; left out when org-wide.")
    sourceName: str | None = Field(None, description="The source; left out for INSTORE.")


class SubscriptionUpdateAnswer(BaseModel):
    """The changes applied, beside the request's ids and reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scope": {
                        "scopeId": 0,
                        "scope": "USER",
                        "subScope": "NONE",
                        "setCreatedOn": False,
                        "setPriority": False,
                        "setScopeId": False,
                        "setScope": True,
                        "setSubScope": True,
                    },
                    "subscriptions": [
                        {"channel": "EMAIL", "accountId": "", "priority": "BULK", "type": "OPTOUT"},
                        {"channel": "EMAIL", "accountId": "", "priority": "TRANS", "type": "OPTIN"},
                        {
                            "channel": "SMS",
                            "accountId": "123",
                            "priority": "TRANS",
                            "type": "OPTIN",
                        },
                    ],
                    "campaignId": -1,
                    "communicationId": -1,
                    "reason": "Sample reason",
                    "warnings": [],
                }
            ]
        }
    )

    scope: SubscriptionScope
    subscriptions: list[SubscriptionChange]
    campaignId: int
    communicationId: int
    reason: str
    warnings: list[Problem]


RETRIEVE_SAMPLE: dict[str, Any] = {
    "subscriptions": [
        {"channel": "EMAIL", "priority": "TRANS", "type": "OPTIN"},
        {"channel": "SMS", "priority": "TRANS", "type": "OPTIN"},
        {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN"},
        {"channel": "SMS", "priority": "BULK", "type": "OPTIN"},
    ],
    "campaignId": 0,
    "communicationId": 0,
    "warnings": [],
}


class SubscriptionsAnswer(BaseModel):
    """The subscriptions recorded for a customer (campaign and communication ids are 0)."""

    model_config = ConfigDict(json_schema_extra={"examples": [RETRIEVE_SAMPLE]})

    subscriptions: list[StoredSubscription]
    campaignId: int
    communicationId: int
    warnings: list[Problem]
