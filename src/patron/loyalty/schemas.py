"""Request bodies of the loyalty endpoints (camelCase, as the v2 API writes them).

Ids of customers, programs and bills are not bounded here: one out of range answers as
an unknown one does (the services look it up).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from patron.kit.clock import iso
from patron.kit.db import MAX_ID
from patron.loyalty import programs


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SlabIn(_Body):
    """A slab (tier); the n-th slab of a program has serial number n."""

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    threshold: float = Field(
        default=0, ge=0, description="The tier basis to reach (0 for the first slab)."
    )
    earn_rate: float = Field(default=0, ge=0, description="Points per unit of a bill's amount.")
    validity_days: int | None = Field(
        default=None, ge=1, description="Days the slab lasts once entered (null: for good)."
    )


class PartnerIn(_Body):
    """A partner program linked to the loyalty program."""

    partner_program_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)
    type: str = Field(default="EXTERNAL", description="EXTERNAL or SUPPLEMENTARY.")
    tiers: list[str] = Field(default_factory=list, description="Tier names in order (if any).")


class ProgramIn(_Body):
    """A new loyalty program, or (``PUT``) the fields to change."""

    name: str | None = Field(default=None, max_length=100)
    program_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="Default: the next free number."
    )
    description: str | None = Field(default=None, max_length=500)
    default: bool | None = Field(default=None, description="Bills earn here unless they say.")
    tier_basis: str | None = Field(
        default=None, description="LIFETIME_POINTS (default) or CUMULATIVE_PURCHASES."
    )
    downgrade_rule: str | None = Field(
        default=None, description="NONE (default), TO_QUALIFYING or ONE_SLAB."
    )
    points_expiry_days: int | None = Field(
        default=None, ge=0, description="Days after which credited points expire; 0: never."
    )
    points_delay_days: int | None = Field(
        default=None, ge=0, description="Days before earned points may be spent (default 0)."
    )
    allow_negative: bool | None = None
    goodwill_auto_approve_limit: float | None = Field(default=None, ge=0)
    slabs: list[SlabIn] | None = None
    partner_programs: list[PartnerIn] = Field(default_factory=list)


def program_input(body: ProgramIn) -> programs.ProgramInput:
    """The service's input for a program body (``pointsExpiryDays`` 0: points never expire)."""
    expiry = body.points_expiry_days
    return programs.ProgramInput(
        name=body.name,
        number=body.program_id,
        description=body.description,
        is_default=body.default,
        tier_basis=body.tier_basis,
        downgrade_rule=body.downgrade_rule,
        points_expiry_days=expiry or None,
        clear_points_expiry=expiry == 0,
        points_delay_days=body.points_delay_days,
        allow_negative=body.allow_negative,
        goodwill_auto_approve_limit=body.goodwill_auto_approve_limit,
        slabs=None
        if body.slabs is None
        else [
            programs.SlabInput(
                name=s.name,
                description=s.description,
                threshold=s.threshold,
                earn_rate=s.earn_rate,
                validity_days=s.validity_days,
            )
            for s in body.slabs
        ],
        partners=[
            programs.PartnerInput(
                number=p.partner_program_id,
                name=p.name,
                description=p.description,
                type=p.type,
                tiers=p.tiers,
            )
            for p in body.partner_programs
        ],
    )


def render_program(program: programs.Program) -> dict[str, Any]:
    """A program as the API and the CLI show it."""
    return {
        **program.as_dict(),
        "createdOn": iso(program.created_at),
        "updatedOn": iso(program.updated_at),
    }


class LineItemIn(_Body):
    """A line of a bill."""

    sku: str = Field(min_length=1, max_length=100, description="The item code.")
    description: str = Field(default="", max_length=200)
    quantity: float = Field(default=1, gt=0)
    rate: float = Field(default=0, ge=0, description="The price of one.")
    amount: float | None = Field(
        default=None, ge=0, description="The line's amount (default: quantity x rate)."
    )


class TransactionIn(_Body):
    """A bill, for a customer by id or identifier, or for nobody (``NOT_INTERESTED``)."""

    number: str = Field(min_length=1, max_length=100, description="The bill number.")
    customer_id: int | None = None
    identifier_name: str | None = None
    identifier_value: str | None = None
    source: str | None = None
    account_id: str | None = None
    store_code: str | None = Field(default=None, description="The store or till (code).")
    amount: float | None = Field(default=None, ge=0, description="Default: the lines' total.")
    date: str | None = Field(default=None, description="ISO date or date-time (default: now).")
    line_items: list[LineItemIn] = Field(default_factory=list)
    program_id: int | None = Field(default=None, description="Default: the org's default program.")


class ReturnLineIn(_Body):
    serial: int = Field(ge=1, description="The line's serial number on the bill.")
    quantity: float = Field(gt=0)


class ReturnIn(_Body):
    """What goes back: the given lines, or none given, everything left of the bill."""

    number: str = Field(default="", max_length=100, description="The return's own bill number.")
    line_items: list[ReturnLineIn] = Field(default_factory=list)


class RedeemIn(_Body):
    points: float = Field(gt=0)
    program_id: int | None = None


class AdjustIn(_Body):
    points: float = Field(description="Points to add; negative to take.")
    reason: str = Field(min_length=1, max_length=500)
    program_id: int | None = None


class TierChangeIn(_Body):
    direction: str = Field(description="UPGRADE or DOWNGRADE.")
    reason: str = Field(min_length=1, max_length=500)
    program_id: int | None = None


class PartnerMembershipIn(_Body):
    partner_program_id: int = Field(ge=1, le=MAX_ID)
    membership_id: str = Field(min_length=1, max_length=100)
    tier_number: int | None = Field(default=None, ge=1)
    tier_expiry_date: str | None = Field(default=None, description="ISO date or date-time.")


class GoodwillIn(_Body):
    points: float = Field(gt=0)
    reason: str = Field(default="", max_length=500)
    comments: str = Field(default="", max_length=1000)
    program_id: int | None = None
    store_code: str | None = None


class DecisionIn(_Body):
    """An admin's decision on a pending request."""

    status: str = Field(description="APPROVED or REJECTED.")
    comments: str = Field(default="", max_length=1000)
    approved_value: float | None = Field(
        default=None, gt=0, description="Goodwill: points granted (default: those asked)."
    )


class TransferTo(_Body):
    """The receiving customer: by id, or by identifier."""

    customer_id: int | None = None
    identifier_name: str | None = None
    identifier_value: str | None = None


class TransferIn(_Body):
    transfer_to: TransferTo
    points: float = Field(gt=0)
    notes: str = Field(default="", max_length=500)
    program_id: int | None = None


class RetroIn(_Body):
    """A claim of an earlier bill recorded without a customer."""

    transaction_id: int | None = None
    transaction_number: str | None = Field(default=None, max_length=100)
    store_code: str | None = None
    reason: str = Field(default="", max_length=500)
    comments: str = Field(default="", max_length=1000)
