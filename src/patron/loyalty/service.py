"""Campaigns: the loyalty programs of an org, and the balances customers hold in them.

A campaign has a type that says what its balances count: ``points``, ``visits``,
an ``amount`` (of money), or ``product`` (products or services, counted, each one
named in the ledger). Its ``number`` is the id integrations use; an admin may give
it explicitly so an existing integration keeps its ids, or take the next free one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic, loyalty
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.db import MAX_ID
from patron.kit.errors import Conflict, Forbidden, InvalidInput
from patron.loyalty import repository
from patron.loyalty.tables import CAMPAIGN_TYPES

MAX_NAME_LENGTH = 100
_CONTROL = re.compile(CONTROL_CHARACTERS)


@dataclass(frozen=True)
class Campaign:
    id: int  # internal key
    number: int  # the id integrations use
    name: str
    type: str
    created_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {"id": self.number, "name": self.name, "type": self.type}


def _campaign(row: RowMapping) -> Campaign:
    return Campaign(
        id=int(row["id"]),
        number=int(row["number"]),
        name=str(row["name"]),
        type=str(row["type"]),
        created_at=row["created_at"],
    )


def add_campaign(
    conn: Connection, actor: Actor, *, name: str, type: str, number: int | None = None
) -> Campaign:
    """Create a campaign of the actor's org (admin); ``number`` defaults to the next free one."""
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "the admin role is needed to create campaigns")
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"a campaign needs a name of 1 to {MAX_NAME_LENGTH} characters"
        )
    if _CONTROL.search(name):
        raise InvalidInput(
            generic.INVALID_INPUT, "a campaign name must not contain control characters"
        )
    kind = type.strip().lower()
    if kind not in CAMPAIGN_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"a campaign type is one of {', '.join(CAMPAIGN_TYPES)}, not '{type}'",
        )
    if number is not None and not 1 <= number <= MAX_ID:
        raise InvalidInput(
            generic.INVALID_INPUT, f"a campaign id is a whole number from 1 to {MAX_ID}"
        )
    wanted = number if number is not None else repository.next_number(conn, actor.org_id)
    if repository.campaigns_by_number(conn, actor.org_id, [wanted]):
        raise Conflict(generic.CONFLICT, f"a campaign with id {wanted} exists")
    try:
        with conn.begin_nested():
            campaign_id = repository.insert_campaign(
                conn,
                {
                    "org_id": actor.org_id,
                    "number": wanted,
                    "name": name,
                    "type": kind,
                    "created_by": actor.name,
                },
            )
    except IntegrityError:  # created at the same moment by another request
        raise Conflict(generic.CONFLICT, f"a campaign with id {wanted} exists") from None
    audit(conn, actor, "campaign.create", "campaign", wanted, {"name": name, "type": kind})
    found = repository.get_campaign(conn, actor.org_id, campaign_id)
    assert found is not None  # inserted above
    return _campaign(found)


def list_campaigns(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[Campaign], int]:
    """A page of the org's campaigns by number, and how many there are."""
    rows, total = repository.list_campaigns(conn, org_id, limit, offset)
    return [_campaign(row) for row in rows], total


def campaigns_by_number(conn: Connection, org_id: int, numbers: Sequence[int]) -> list[Campaign]:
    """The campaigns with these numbers, in the order given; any unknown one is refused (1107)."""
    rows = repository.campaigns_by_number(conn, org_id, numbers)
    found = {int(row["number"]): _campaign(row) for row in rows}
    unknown = [str(number) for number in numbers if number not in found]
    if unknown:
        raise InvalidInput(
            loyalty.UNKNOWN_CAMPAIGN,
            f"unknown campaign {', '.join(unknown)}: no campaign of this account has that id",
        )
    return [found[number] for number in numbers]
