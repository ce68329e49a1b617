"""SQL of referral campaigns, invitations and codes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.care_tables import referral_campaigns, referral_codes, referrals
from patron.kit.db import MAX_ID, insert_returning_id
from patron.orgs.tables import org_units


def insert_campaign(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, referral_campaigns, values)


def campaigns(conn: Connection, org_id: int) -> list[RowMapping]:
    query = (
        sa.select(referral_campaigns)
        .where(referral_campaigns.c.org_id == org_id)
        .order_by(referral_campaigns.c.id)
    )
    return list(conn.execute(query).mappings())


def campaign_by_token(conn: Connection, org_id: int, token: str) -> RowMapping | None:
    """The campaign whose token is ``token`` in any letter case."""
    query = sa.select(referral_campaigns).where(
        referral_campaigns.c.org_id == org_id,
        sa.func.lower(referral_campaigns.c.token) == token.lower(),
    )
    return conn.execute(query).mappings().first()


def update_campaign(
    conn: Connection, org_id: int, campaign_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        referral_campaigns.update()
        .where(referral_campaigns.c.org_id == org_id, referral_campaigns.c.id == campaign_id)
        .values(**values)
    )


def invitation(
    conn: Connection, org_id: int, campaign_id: int, customer_id: int, kind: str, identifier: str
) -> RowMapping | None:
    """The referrer's invitation of ``identifier`` in the campaign, if any."""
    query = sa.select(referrals).where(
        referrals.c.org_id == org_id,
        referrals.c.customer_id == customer_id,
        referrals.c.campaign_id == campaign_id,
        referrals.c.type == kind,
        referrals.c.identifier == identifier,
    )
    return conn.execute(query).mappings().first()


def insert_invitation(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, referrals, values)


def refresh_invitation(
    conn: Connection, org_id: int, referral_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        referrals.update()
        .where(referrals.c.org_id == org_id, referrals.c.id == referral_id)
        .values(**values)
    )


def code_of(conn: Connection, org_id: int, campaign_id: int, customer_id: int) -> str | None:
    query = sa.select(referral_codes.c.code).where(
        referral_codes.c.org_id == org_id,
        referral_codes.c.campaign_id == campaign_id,
        referral_codes.c.customer_id == customer_id,
    )
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def code_taken(conn: Connection, org_id: int, code: str) -> bool:
    query = sa.select(sa.literal(1)).where(
        referral_codes.c.org_id == org_id, referral_codes.c.code == code
    )
    return conn.execute(query).first() is not None


def insert_code(
    conn: Connection, org_id: int, campaign_id: int, customer_id: int, code: str
) -> None:
    conn.execute(
        referral_codes.insert().values(
            org_id=org_id, campaign_id=campaign_id, customer_id=customer_id, code=code
        )
    )


def joined_in(
    conn: Connection, org_id: int, campaign_ids: Sequence[int], referee_id: int
) -> set[int]:
    """The campaigns among ``campaign_ids`` in which ``referee_id`` joined already."""
    query = sa.select(referrals.c.campaign_id).where(
        referrals.c.org_id == org_id,
        referrals.c.referee_id == referee_id,
        referrals.c.campaign_id.in_(list(campaign_ids)),
    )
    return {int(i) for i in conn.execute(query).scalars()}


def link(conn: Connection, org_id: int, referral_id: int, referee_id: int, at: datetime) -> None:
    conn.execute(
        referrals.update()
        .where(referrals.c.org_id == org_id, referrals.c.id == referral_id)
        .values(referee_id=referee_id, joined_at=at)
    )


def campaigns_of_referrer(
    conn: Connection, org_id: int, customer_ids: Sequence[int], limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the campaigns in which ``customer_ids`` invited someone, by campaign id."""
    used = (
        sa.select(referrals.c.campaign_id)
        .where(referrals.c.org_id == org_id, referrals.c.customer_id.in_(list(customer_ids)))
        .distinct()
        .subquery()
    )
    where = sa.and_(
        referral_campaigns.c.org_id == org_id,
        referral_campaigns.c.id.in_(sa.select(used.c.campaign_id)),
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(referral_campaigns).where(where)
    ).scalar_one()
    query = (
        sa.select(referral_campaigns)
        .where(where)
        .order_by(referral_campaigns.c.id)
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return list(conn.execute(query).mappings()), int(total)


def invitations_of(
    conn: Connection, org_id: int, campaign_id: int, customer_ids: Sequence[int]
) -> list[RowMapping]:
    """The invitations of ``customer_ids`` in a campaign (with the till's code), oldest first."""
    query = (
        sa.select(
            referrals, org_units.c.code.label("unit_code"), org_units.c.name.label("unit_name")
        )
        .outerjoin(org_units, org_units.c.id == referrals.c.unit_id)
        .where(
            referrals.c.org_id == org_id,
            referrals.c.campaign_id == campaign_id,
            referrals.c.customer_id.in_(list(customer_ids)),
        )
        .order_by(referrals.c.invited_on, referrals.c.id)
    )
    return list(conn.execute(query).mappings())


def joined_through(conn: Connection, org_id: int, referee_ids: Sequence[int]) -> list[RowMapping]:
    """The invitations through which ``referee_ids`` joined, with the campaign, oldest first."""
    query = (
        sa.select(
            referrals.c.customer_id,
            referrals.c.joined_at,
            referral_campaigns.c.token,
            referral_campaigns.c.name.label("campaign_name"),
        )
        .join(referral_campaigns, referral_campaigns.c.id == referrals.c.campaign_id)
        .where(referrals.c.org_id == org_id, referrals.c.referee_id.in_(list(referee_ids)))
        .order_by(referrals.c.joined_at, referrals.c.id)
    )
    return list(conn.execute(query).mappings())
