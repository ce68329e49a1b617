"""Channel subscriptions: checking changes, applying them, keeping the consent ledger.

A subscription is one (channel, priority, org unit, source, account) of a
customer with status ``OPTIN`` or ``OPTOUT``. patron reports only subscriptions
that were recorded (by the API, a registration or an import); it never assumes
consent that nobody gave. Every recorded change, even one that repeats the
current status, adds a row to the consent ledger: who, when, from where, why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.auth.actor import Actor
from patron.codes import customer, generic
from patron.customer import lookup
from patron.kit.errors import InvalidInput, NotFound, Notice, PatronError
from patron.orgs import service as orgs
from patron.subscriptions import repository
from patron.subscriptions.schemas import (
    ScopeIn,
    SubscriptionIn,
    SubscriptionUpdate,
    render_change,
    render_state,
)

CHANNELS = (
    "SMS",
    "EMAIL",
    "WECHAT",
    "WHATSAPP",
    "IOS",
    "ANDROID",
    "LINE",
    "MOBILEPUSH",
    "POSTMAIL",
)
#: Spellings clients send, upper-cased, to the stored channel.
_CHANNEL_NAMES = {channel: channel for channel in CHANNELS} | {"MOBILE": "SMS"}
PRIORITIES = ("TRANS", "BULK")
STATUSES = ("OPTIN", "OPTOUT")
#: ``org_unit_id`` of a subscription that holds for the whole org.
ORG_WIDE = 0
_ORG_WIDE_SPELLINGS = (None, 0, -1)
_DEFAULT_SOURCE = "INSTORE"
MAX_REASON_LENGTH = 500


def channel_of(name: str | None) -> str | None:
    """The stored channel for a name clients use (``mobile`` -> ``SMS``), or ``None``."""
    return _CHANNEL_NAMES.get((name or "").strip().upper())


@dataclass(frozen=True)
class SubscriptionChange:
    """A checked change: canonical channel, priority, status and where it applies."""

    channel: str
    priority: str
    status: str
    org_unit_id: int = ORG_WIDE
    source: str = _DEFAULT_SOURCE
    account_id: str = ""

    def __post_init__(self) -> None:
        # Callers build changes from checked values (see parse_change); anything
        # else is a programming error, not a client's.
        if (
            self.channel not in CHANNELS
            or self.priority not in PRIORITIES
            or self.status not in STATUSES
        ):
            raise ValueError(f"not a checked subscription change: {self}")

    @property
    def key(self) -> repository.Key:
        return (self.channel, self.priority, self.org_unit_id, self.source, self.account_id)

    def rendered(self) -> dict[str, Any]:
        return render_change(
            self.channel,
            self.priority,
            self.status,
            self.org_unit_id,
            self.source,
            self.account_id,
        )


def parse_change(
    *,
    channel: str | None,
    priority: str | None,
    status: str | None,
    org_unit_id: int | None = None,
    source: str | None = None,
    account_id: str | None = None,
) -> SubscriptionChange:
    """Check one change as sent (1101, 1102, 1106, 8012, 8045, 8011; 1150 for a negative unit).

    Whether the org unit belongs to the org is checked when the change is recorded.
    """
    canonical = channel_of(channel)
    if canonical is None:
        raise InvalidInput(
            customer.INVALID_CHANNEL,
            f"Invalid channel type: {channel!r}; use one of {', '.join(CHANNELS)}",
        )
    wanted_priority = (priority or "").strip().upper()
    if wanted_priority not in PRIORITIES:
        raise InvalidInput(
            customer.INVALID_PRIORITY, f"Invalid priority type: {priority!r}; use TRANS or BULK"
        )
    wanted_status = (status or "").strip().upper()
    if wanted_status not in STATUSES:
        raise InvalidInput(
            customer.INVALID_SUBSCRIPTION_STATUS,
            f"Invalid subscription status passed: {status!r}; use OPTIN or OPTOUT",
        )
    where = lookup.source_account(source, account_id, default=_DEFAULT_SOURCE)
    if org_unit_id in _ORG_WIDE_SPELLINGS:
        unit = ORG_WIDE
    elif org_unit_id is not None and org_unit_id > 0:
        unit = org_unit_id
    else:
        raise InvalidInput(customer.INVALID_STORE, f"Invalid store ID passed: {org_unit_id}")
    return SubscriptionChange(
        canonical, wanted_priority, wanted_status, unit, where.source, where.account_id
    )


def parse_entries(entries: Sequence[SubscriptionIn]) -> list[SubscriptionChange]:
    """Check every entry of a request; the first invalid one names its position."""
    changes = []
    for index, entry in enumerate(entries):
        try:
            changes.append(
                parse_change(
                    channel=entry.channel,
                    priority=entry.priority,
                    status=entry.type,
                    org_unit_id=entry.org_unit_id,
                    source=entry.source_name,
                    account_id=entry.account_id,
                )
            )
        except PatronError as exc:
            exc.message = f"subscriptions[{index}]: {exc.message}"
            raise
    return changes


def check_scope(scope: ScopeIn | None) -> None:
    """Subscriptions are kept per customer: a scope other than USER / NONE is 1103."""
    if scope is None:
        return
    if scope.scope is not None and scope.scope.strip().upper() != "USER":
        raise InvalidInput(
            customer.INVALID_SCOPE, f"Invalid scope: {scope.scope!r}; only USER is supported"
        )
    if scope.sub_scope is not None and scope.sub_scope.strip().upper() != "NONE":
        raise InvalidInput(
            customer.INVALID_SCOPE,
            f"Invalid scope: subScope {scope.sub_scope!r}; only NONE is supported",
        )


@dataclass
class Outcome:
    """Rendered subscriptions and the warnings resolving the customer produced."""

    subscriptions: list[dict[str, Any]]
    warnings: list[Notice]


def update(conn: Connection, actor: Actor, customer_id: int, body: SubscriptionUpdate) -> Outcome:
    """Apply an update request: everything is checked before anything is written."""
    check_scope(body.scope)
    changes = parse_entries(body.subscriptions)
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    rendered = _record(conn, actor, resolved, changes, reason=body.reason or "", origin="api")
    return Outcome(rendered, resolved.warnings)


def record(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    items: list[SubscriptionChange],
    *,
    reason: str,
    origin: str,
) -> list[dict[str, Any]]:
    """Record checked changes for a customer of the actor's org (one ledger row each).

    Refuses the whole list when an org unit is not the org's (1150) or when an
    opt-in targets a customer marked as fraud (618). ``origin`` says where the
    change came from: ``api``, ``registration``, ``import:<id>``, ``cli``.
    """
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    return _record(conn, actor, resolved, items, reason=reason, origin=origin)


def _record(
    conn: Connection,
    actor: Actor,
    resolved: lookup.Resolved,
    items: list[SubscriptionChange],
    *,
    reason: str,
    origin: str,
) -> list[dict[str, Any]]:
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"reason may hold at most {MAX_REASON_LENGTH} characters"
        )
    if "\x00" in reason:
        raise InvalidInput(generic.INVALID_INPUT, "reason must not contain NUL characters")
    _check_units(conn, actor.org_id, items)
    # A customer marked as fraud is frozen against changes (618), but an opt-out
    # is always accepted: refusing it would keep messaging a person who asked us
    # to stop, and no fraud rule is served by that. Only opt-ins are refused.
    if any(item.status == "OPTIN" for item in items):
        lookup.ensure_changeable(resolved.customer)
    org_id, customer_id = actor.org_id, resolved.id
    state = repository.statuses_for_update(conn, org_id, customer_id)
    entries = []
    final: dict[repository.Key, SubscriptionChange] = {}
    for item in items:
        entries.append(
            {
                "org_id": org_id,
                "customer_id": customer_id,
                "channel": item.channel,
                "priority": item.priority,
                "status": item.status,
                "previous_status": state.get(item.key),
                "org_unit_id": item.org_unit_id,
                "source": item.source,
                "account_id": item.account_id,
                "reason": reason,
                "actor": actor.name,
                "origin": origin,
            }
        )
        state[item.key] = item.status
        final[item.key] = item
    repository.upsert(
        conn,
        [
            {
                "org_id": org_id,
                "customer_id": customer_id,
                "channel": item.channel,
                "priority": item.priority,
                "status": item.status,
                "org_unit_id": item.org_unit_id,
                "source": item.source,
                "account_id": item.account_id,
            }
            for item in final.values()
        ],
    )
    repository.insert_ledger(conn, entries)
    return [item.rendered() for item in items]


def _check_units(conn: Connection, org_id: int, items: list[SubscriptionChange]) -> None:
    """Every org unit named must be one of the org's (any kind; inactive ones too)."""
    checked: set[int] = {ORG_WIDE}
    for index, item in enumerate(items):
        if item.org_unit_id in checked:
            continue
        try:
            orgs.get_unit(conn, org_id, item.org_unit_id)
        except NotFound:
            raise InvalidInput(
                customer.INVALID_STORE,
                f"subscriptions[{index}]: Invalid store ID passed: {item.org_unit_id}",
            ) from None
        checked.add(item.org_unit_id)


def retrieve(conn: Connection, org_id: int, customer_id: int) -> Outcome:
    """The recorded subscriptions of a customer (a merge victim resolves to its survivor)."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    return Outcome(current(conn, org_id, resolved.id), resolved.warnings)


def current(conn: Connection, org_id: int, customer_id: int) -> list[dict[str, Any]]:
    """The recorded subscriptions of an already resolved customer, oldest first."""
    return [render_state(row) for row in repository.list_for_customer(conn, org_id, customer_id)]


def ledger(conn: Connection, org_id: int, customer_id: int) -> list[RowMapping]:
    """The customer's consent ledger, oldest entry first."""
    return repository.ledger_of(conn, org_id, customer_id)


@dataclass(frozen=True)
class Moved:
    """What :func:`move_to` did; the ids let a merge record be reversed."""

    superseded: int
    """Victim subscriptions deleted because the survivor had one under the same key."""
    subscription_ids: list[int]
    """Victim subscriptions now held by the survivor."""
    ledger_ids: list[int]
    """Consent-ledger rows now held by the survivor."""


def move_to(conn: Connection, org_id: int, victim_id: int, survivor_id: int) -> Moved:
    """Give a merge victim's subscriptions and consent ledger to the survivor.

    Where both hold the same subscription key, the survivor's row is kept.
    """
    return Moved(*repository.move(conn, org_id, victim_id, survivor_id))


# --- many customers at once (the User Subscription import) --------------------------------

#: The channels the User Subscription import takes (the seed's list), lower-cased, to the
#: stored channel; ``sms`` is read as ``mobile``.
IMPORT_CHANNELS = {
    name.lower(): str(channel_of(name))
    for name in ("line", "mobile", "email", "whatsapp", "ios", "android", "postmail", "mobilePush")
}
#: Channels whose subscriptions can belong to one of several accounts, and the source that
#: holds those accounts (a subscription with an account is kept on that source).
ACCOUNT_SOURCES = {"LINE": "LINE", "MOBILEPUSH": "MOBILE_APP", "IOS": "MOBILE_APP",
                   "ANDROID": "MOBILE_APP"}  # fmt: skip
DEFAULT_SOURCE = _DEFAULT_SOURCE
#: The ledger status of an undo that removes a subscription nobody had recorded before.
NOT_RECORDED = "NONE"
KEY = ("customer_id", *repository.KEY_COLUMNS)


def statuses_of(conn: Connection, org_id: int, keys: pl.DataFrame) -> pl.DataFrame:
    """``keys`` (customer_id, channel, priority, org_unit_id, source, account_id; unique)
    with the stored ``status`` of each, null where none was recorded."""
    return repository.statuses_of(conn, org_id, keys)


def record_many(
    conn: Connection, org_id: int, changes: pl.DataFrame, *, actor: str, origin: str
) -> None:
    """Record checked changes of many customers: ``changes`` holds the key columns, the new
    ``status`` and the ``previous_status`` it replaces (null: none recorded), one row per
    key. Each gets its subscription and a consent-ledger row, in two statements."""
    repository.upsert_many(conn, org_id, changes)
    _ledger(conn, org_id, changes, actor=actor, origin=origin, reason="")


def restore_many(
    conn: Connection,
    org_id: int,
    restored: pl.DataFrame,
    *,
    actor: str,
    origin: str,
    reason: str,
) -> None:
    """Put subscriptions back as they were: ``restored`` holds the key columns, the current
    ``status`` and the ``previous_status`` to restore. A null previous status removes the
    subscription (nobody had recorded one); every row is kept in the consent ledger."""
    back = restored.filter(pl.col("previous_status").is_not_null())
    repository.upsert_many(conn, org_id, back.with_columns(status="previous_status"))
    repository.delete_many(conn, org_id, restored.filter(pl.col("previous_status").is_null()))
    ledger = restored.select(
        *KEY,
        status=pl.col("previous_status").fill_null(NOT_RECORDED),
        previous_status="status",
    )
    _ledger(conn, org_id, ledger, actor=actor, origin=origin, reason=reason)


def _ledger(
    conn: Connection, org_id: int, frame: pl.DataFrame, *, actor: str, origin: str, reason: str
) -> None:
    repository.insert_ledger_frame(
        conn,
        frame.select(
            *KEY,
            "status",
            "previous_status",
            org_id=pl.lit(org_id, dtype=pl.Int64),
            reason=pl.lit(reason),
            actor=pl.lit(actor),
            origin=pl.lit(origin),
        ),
    )
