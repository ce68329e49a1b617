"""The v2 Customer API's operations, each one call for its endpoint: the source and account
checked, the customer found (by id or by identifier), then read, changed or registered.

The endpoints (``customer.endpoints``) only pass the request's values here and return
what comes back; the rules live in ``lookup``, ``details``, ``update``, ``identifiers``
and ``registration``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.codes import customer as codes
from patron.customer import lookup
from patron.customer.details import details
from patron.customer.identifiers import change_identifiers
from patron.customer.registration import register
from patron.customer.schemas import ChangeIdentifiersIn, RegisterIn, UpdateIn
from patron.customer.update import update
from patron.kit.db import retry_in_request_transaction, retry_in_savepoint
from patron.kit.errors import Notice
from patron.orgs import service as orgs


@dataclass(frozen=True)
class Identifier:
    """An identifier named by a request: ``identifierName`` / ``identifierValue``, on a
    ``source`` and ``accountId`` (all as given; checked where they are used)."""

    name: str | None
    value: str | None
    source: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class Saved:
    """A customer registered or changed: its id and the warnings of the change."""

    customer_id: int
    warnings: list[Notice] = field(default_factory=list)


def _everywhere(source: str | None, account_id: str | None) -> lookup.SourceAccount:
    """A read's source and account: every source unless one is named (8011 if unknown)."""
    return lookup.source_account(
        source,
        account_id,
        allow_all=True,
        invalid_source_code=codes.SOURCE_ACCOUNT_INVALID,
        default=lookup.ALL_SOURCES,
    )


def _found(
    conn: Connection,
    actor: Actor,
    given: Identifier,
    where: lookup.SourceAccount,
    *,
    for_update: bool = False,
    with_purchases: bool = False,
) -> lookup.Resolved:
    settings = orgs.get_settings(conn, actor.org_id)
    return lookup.by_identifier(
        conn,
        actor.org_id,
        settings,
        given.name,
        given.value,
        where,
        for_update=for_update,
        with_purchases=with_purchases,
    )


def register_customer(conn: Connection, actor: Actor, body: RegisterIn) -> Saved:
    """Register a customer, combining across sources."""
    # A concurrent registration of the same person may win the unique index: the request's
    # transaction, which holds nothing else, is run again and then finds the winner.
    outcome = retry_in_request_transaction(conn, lambda c: register(c, actor, body))
    return Saved(outcome.customer_id, outcome.warnings)


def lookup_customer(conn: Connection, actor: Actor, given: Identifier) -> Saved:
    """The id (and the warnings of its resolution) of the customer holding an identifier."""
    found = _found(conn, actor, given, _everywhere(given.source, given.account_id))
    return Saved(found.id, found.warnings)


def details_by_identifier(
    conn: Connection, actor: Actor, given: Identifier, embed: str | None
) -> dict[str, Any]:
    """The details of the customer holding an identifier."""
    where = _everywhere(given.source, given.account_id)
    found = _found(conn, actor, given, where, with_purchases=True)
    return details(conn, actor.org_id, found, where, embed)


def details_by_id(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    source: str | None,
    account_id: str | None,
    embed: str | None,
) -> dict[str, Any]:
    """The details of a customer; a merge victim's id answers its survivor (91009)."""
    where = lookup.source_account(source, account_id, allow_all=True, default=lookup.ALL_SOURCES)
    found = lookup.resolve(conn, actor.org_id, customer_id, with_purchases=True)
    return details(conn, actor.org_id, found, where, embed)


def update_by_identifier(
    conn: Connection, actor: Actor, given: Identifier, body: UpdateIn
) -> Saved:
    """Update the customer holding an identifier, on a source (INSTORE by default)."""
    where = lookup.source_account(given.source, given.account_id, default="INSTORE")
    found = _found(conn, actor, given, where, for_update=True)
    return Saved(found.id, update(conn, actor, found, where, body))


def update_by_id(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    source: str | None,
    account_id: str | None,
    body: UpdateIn,
) -> Saved:
    """Update a customer on a source (INSTORE by default)."""
    where = lookup.source_account(source, account_id, default="INSTORE")
    found = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    return Saved(found.id, update(conn, actor, found, where, body))


def change_identifiers_of(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    source: str | None,
    account_id: str | None,
    body: ChangeIdentifiersIn,
) -> Saved:
    """Add and remove identifiers of a customer on a source, merging when needed."""
    where = lookup.source_account(source, account_id, default="INSTORE")
    outcome = retry_in_savepoint(
        conn, lambda c: change_identifiers(c, actor, customer_id, where, body)
    )
    return Saved(outcome.customer_id, outcome.warnings)
