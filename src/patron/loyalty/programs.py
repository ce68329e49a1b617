"""Loyalty programs: an org has one or more (multi-loyalty), each with ordered slabs
(tiers), an earn rate per slab, a points expiry and delay, a downgrade rule, and
optional partner programs.

A program's ``number`` is the ``programId`` integrations use; an admin may give it
(so an existing integration keeps its ids) or take the next free one. The org's
first program is its default one: bills earn there unless they name another.
Slabs are reached on the program's tier basis, lifetime points or cumulative
purchases; the first slab is the entry slab (threshold 0) and thresholds rise
with the serial number. Programs are never deleted: ledger entries name them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic, loyalty
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.db import MAX_ID
from patron.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from patron.loyalty import program_cache
from patron.loyalty import program_repository as repository
from patron.loyalty.rules import ZERO, Slab, money
from patron.loyalty.tables import DOWNGRADE_RULES, TIER_BASES

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 500
MAX_SLABS = 50
#: The largest number of days for expiry, delay and validity (about 1,000 years).
MAX_DAYS = 366_000
MAX_POINTS = Decimal("9999999999999999.99")
PARTNER_TYPES = ("EXTERNAL", "SUPPLEMENTARY")
_CONTROL = re.compile(CONTROL_CHARACTERS)


@dataclass(frozen=True)
class Partner:
    """A partner program linked to a loyalty program."""

    id: int
    number: int
    name: str
    description: str
    type: str
    tiers: tuple[str, ...]

    @property
    def tier_based(self) -> bool:
        return bool(self.tiers)

    def as_dict(self) -> dict[str, Any]:
        return {
            "partnerProgramId": self.number,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "tiers": list(self.tiers),
        }


@dataclass(frozen=True)
class Program:
    """A loyalty program with its slabs (by serial) and partner programs."""

    id: int
    number: int
    name: str
    description: str
    is_default: bool
    tier_basis: str
    downgrade_rule: str
    points_expiry_days: int | None
    points_delay_days: int
    allow_negative: bool
    goodwill_auto_approve_limit: Decimal
    slabs: tuple[Slab, ...]
    partners: tuple[Partner, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def slab(self, slab_id: int | None) -> Slab:
        """The slab with this id; the entry slab when ``None`` or not one of the program's."""
        return next((s for s in self.slabs if s.id == slab_id), self.slabs[0])

    def slab_by_name(self, name: str) -> Slab | None:
        wanted = name.strip().lower()
        return next((s for s in self.slabs if s.name.lower() == wanted), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "programId": self.number,
            "name": self.name,
            "description": self.description,
            "default": self.is_default,
            "tierBasis": self.tier_basis,
            "downgradeRule": self.downgrade_rule,
            "pointsExpiryDays": self.points_expiry_days,
            "pointsDelayDays": self.points_delay_days,
            "allowNegative": self.allow_negative,
            "goodwillAutoApproveLimit": float(self.goodwill_auto_approve_limit),
            "slabs": [
                {
                    "serialNumber": s.serial,
                    "name": s.name,
                    "description": s.description,
                    "threshold": float(s.threshold),
                    "earnRate": float(s.earn_rate),
                    "validityDays": s.validity_days,
                }
                for s in self.slabs
            ],
            "partnerPrograms": [p.as_dict() for p in self.partners],
        }


@dataclass(frozen=True)
class SlabInput:
    name: str
    description: str = ""
    threshold: Decimal | float = ZERO
    earn_rate: Decimal | float = ZERO
    validity_days: int | None = None


@dataclass(frozen=True)
class PartnerInput:
    number: int
    name: str
    description: str = ""
    type: str = "EXTERNAL"
    tiers: Sequence[str] = ()


@dataclass(frozen=True)
class ProgramInput:
    """A new program, or (for a change) the fields given; ``None`` keeps a field."""

    name: str | None = None
    number: int | None = None
    description: str | None = None
    is_default: bool | None = None
    tier_basis: str | None = None
    downgrade_rule: str | None = None
    points_expiry_days: int | None = None
    clear_points_expiry: bool = False
    points_delay_days: int | None = None
    allow_negative: bool | None = None
    goodwill_auto_approve_limit: Decimal | float | None = None
    slabs: Sequence[SlabInput] | None = None
    partners: Sequence[PartnerInput] = field(default_factory=tuple)


def _program(row: RowMapping, slabs: list[RowMapping], partners: list[RowMapping]) -> Program:
    return Program(
        id=int(row["id"]),
        number=int(row["number"]),
        name=str(row["name"]),
        description=str(row["description"]),
        is_default=bool(row["is_default"]),
        tier_basis=str(row["tier_basis"]),
        downgrade_rule=str(row["downgrade_rule"]),
        points_expiry_days=row["points_expiry_days"],
        points_delay_days=int(row["points_delay_days"]),
        allow_negative=bool(row["allow_negative"]),
        goodwill_auto_approve_limit=money(row["goodwill_auto_approve_limit"]),
        slabs=tuple(
            Slab(
                id=int(s["id"]),
                serial=int(s["serial"]),
                name=str(s["name"]),
                description=str(s["description"]),
                threshold=money(s["threshold"]),
                earn_rate=Decimal(str(s["earn_rate"])),
                validity_days=s["validity_days"],
            )
            for s in slabs
            if s["program_id"] == row["id"]
        ),
        partners=tuple(
            Partner(
                id=int(p["id"]),
                number=int(p["number"]),
                name=str(p["name"]),
                description=str(p["description"]),
                type=str(p["type"]),
                tiers=tuple(p["tiers"] or ()),
            )
            for p in partners
            if p["program_id"] == row["id"]
        ),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _load(
    conn: Connection, org_id: int, rows: list[RowMapping], *, partners: bool = True
) -> list[Program]:
    ids = [int(r["id"]) for r in rows]
    slabs = repository.slabs_of(conn, org_id, ids)
    linked = repository.partners_of(conn, org_id, ids) if partners else []
    return [_program(row, slabs, linked) for row in rows]


def list_programs(conn: Connection, org_id: int, *, partners: bool = True) -> list[Program]:
    """The org's programs by programId (``partners=False``: without their partner programs,
    one read less where a bill or a points change needs none; a server's cache holds
    them with their partner programs, see :mod:`patron.loyalty.program_cache`)."""
    found = _cached(conn, org_id)
    if found is not None:
        return list(found)
    return _load(conn, org_id, repository.programs(conn, org_id), partners=partners)


def _cached(conn: Connection, org_id: int) -> tuple[Program, ...] | None:
    return program_cache.cached(
        conn, org_id, lambda: _load(conn, org_id, repository.programs(conn, org_id))
    )


def get_program(conn: Connection, org_id: int, number: int, *, code: int = 404) -> Program:
    """The program with this programId (``code`` when the org has none such)."""
    found = _cached(conn, org_id)
    if found is not None:
        program = next((p for p in found if p.number == number), None)
        if program is None:
            raise NotFound(code, f"no loyalty program {number} in this org")
        return program
    row = repository.program_by_number(conn, org_id, number) if 0 < number <= MAX_ID else None
    if row is None:
        raise NotFound(code, f"no loyalty program {number} in this org")
    return _load(conn, org_id, [row])[0]


def program_by_id(conn: Connection, org_id: int, program_id: int) -> Program:
    """The program with this internal id (ledger entries and balances name it so)."""
    found = _cached(conn, org_id)
    if found is not None:
        program = next((p for p in found if p.id == program_id), None)
        if program is None:
            raise NotFound(loyalty.NO_POINTS, f"no loyalty program with internal id {program_id}")
        return program
    row = repository.program_by_id(conn, org_id, program_id)
    if row is None:
        raise NotFound(loyalty.NO_POINTS, f"no loyalty program with internal id {program_id}")
    return _load(conn, org_id, [row])[0]


def default_program(conn: Connection, org_id: int) -> Program | None:
    """The program bills earn in unless they name another; ``None`` when the org has none.
    (Without its partner programs: see :func:`get_program` for those.)"""
    found = list_programs(conn, org_id, partners=False)
    return next((p for p in found if p.is_default), found[0] if found else None)


def program_for(conn: Connection, org_id: int, number: int | None) -> Program:
    """The program ``number`` names, or the default one; 8062 when there is none."""
    if number is not None:
        return get_program(conn, org_id, number, code=loyalty.NO_POINTS)
    found = default_program(conn, org_id)
    if found is None:
        raise NotFound(
            loyalty.NO_POINTS, "Unable to fetch loyalty points: the org has no loyalty program"
        )
    return found


# --- writing ------------------------------------------------------------------------------


def add_program(conn: Connection, actor: Actor, spec: ProgramInput) -> Program:
    """Create a program of the actor's org (admin): its slabs, and partner programs."""
    _admin(actor)
    if spec.name is None:
        raise InvalidInput(generic.INVALID_INPUT, "name: a program needs a name")
    org_id = actor.org_id
    name = _name(spec.name, "name")
    slabs = _slabs(spec.slabs or [SlabInput(name="Base")])
    repository.lock_programs(conn, org_id)
    program_cache.changed(conn, org_id)
    number = spec.number if spec.number is not None else repository.next_number(conn, org_id)
    _check_number(number, "programId")
    if repository.program_by_number(conn, org_id, number) is not None:
        raise Conflict(generic.CONFLICT, f"a loyalty program with programId {number} exists")
    first = not repository.programs(conn, org_id)
    values = {
        "org_id": org_id,
        "number": number,
        "name": name,
        "created_by": actor.name,
        **_settings(spec),
    }
    values["is_default"] = first or bool(spec.is_default)
    try:
        with conn.begin_nested():
            program_id = repository.insert_program(conn, values)
    except IntegrityError:  # the same programId created at the same moment
        raise Conflict(
            generic.CONFLICT, f"a loyalty program with programId {number} exists"
        ) from None
    if values["is_default"]:
        repository.clear_default(conn, org_id, program_id)
    for serial, slab in enumerate(slabs, start=1):
        repository.insert_slab(
            conn, {"org_id": org_id, "program_id": program_id, "serial": serial, **slab}
        )
    _write_partners(conn, actor, program_id, spec.partners)
    audit(
        conn,
        actor,
        "loyalty.program.create",
        "loyalty_program",
        number,
        {"name": name, "slabs": len(slabs), "partners": len(spec.partners)},
    )
    return get_program(conn, org_id, number)


def change_program(conn: Connection, actor: Actor, number: int, spec: ProgramInput) -> Program:
    """Change a program (admin): its settings, slabs (by serial) and partner programs.

    Slabs given replace the program's: the n-th one given becomes serial n. A slab
    members are in cannot be removed (409); a changed threshold moves members at
    their next points change or validity end, not at once. ``spec.number``, when given,
    must be ``number``: a program's id does not change.
    """
    _admin(actor)
    if spec.number is not None and spec.number != number:
        raise InvalidInput(generic.INVALID_INPUT, "programId cannot be changed")
    org_id = actor.org_id
    repository.lock_programs(conn, org_id)
    program_cache.changed(conn, org_id)
    program = get_program(conn, org_id, number)
    values = _settings(spec)
    if spec.name is not None:
        values["name"] = _name(spec.name, "name")
    if spec.is_default is False and program.is_default:
        raise InvalidInput(generic.INVALID_INPUT, "make another program the default one instead")
    if spec.is_default:
        values["is_default"] = True
    if values:
        repository.update_program(conn, org_id, program.id, values)
    if spec.is_default:
        repository.clear_default(conn, org_id, program.id)
    if spec.slabs is not None:
        _replace_slabs(conn, org_id, program, _slabs(spec.slabs))
    _write_partners(conn, actor, program.id, spec.partners)
    audit(
        conn,
        actor,
        "loyalty.program.change",
        "loyalty_program",
        number,
        {"fields": sorted(values), "slabs": spec.slabs is not None, "partners": len(spec.partners)},
    )
    return get_program(conn, org_id, number)


def _admin(actor: Actor) -> None:
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "the admin role is needed to define loyalty programs")


def _replace_slabs(
    conn: Connection, org_id: int, program: Program, slabs: list[dict[str, Any]]
) -> None:
    current = {s.serial: s for s in program.slabs}
    for serial, slab in enumerate(slabs, start=1):
        if serial in current:
            repository.update_slab(conn, org_id, current[serial].id, slab)
        else:
            repository.insert_slab(
                conn, {"org_id": org_id, "program_id": program.id, "serial": serial, **slab}
            )
    for serial, old in current.items():
        if serial > len(slabs):
            members = repository.members_in_slab(conn, org_id, old.id)
            if members:
                raise Conflict(
                    generic.CONFLICT,
                    f"slab {old.name!r} has {members} members; it cannot be removed",
                )
            repository.delete_slab(conn, org_id, old.id)


def _write_partners(
    conn: Connection, actor: Actor, program_id: int, partners: Sequence[PartnerInput]
) -> None:
    for partner in partners:
        _check_number(partner.number, "partnerProgramId")
        kind = partner.type.strip().upper()
        if kind not in PARTNER_TYPES:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"a partner program type is one of {', '.join(PARTNER_TYPES)}",
            )
        values = {
            "name": _name(partner.name, "partner program name"),
            "description": _description(partner.description),
            "type": kind,
            "tiers": [_name(t, "partner tier name") for t in partner.tiers],
        }
        found = repository.partner_by_number(conn, actor.org_id, partner.number)
        if found is None:
            repository.insert_partner(
                conn,
                {
                    "org_id": actor.org_id,
                    "program_id": program_id,
                    "number": partner.number,
                    **values,
                },
            )
        elif int(found["program_id"]) != program_id:
            raise Conflict(
                generic.CONFLICT,
                f"partner program {partner.number} belongs to another loyalty program",
            )
        else:
            repository.update_partner(conn, actor.org_id, int(found["id"]), values)


def _settings(spec: ProgramInput) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if spec.description is not None:
        values["description"] = _description(spec.description)
    if spec.tier_basis is not None:
        values["tier_basis"] = _choice(spec.tier_basis, TIER_BASES, "tierBasis")
    if spec.downgrade_rule is not None:
        values["downgrade_rule"] = _choice(spec.downgrade_rule, DOWNGRADE_RULES, "downgradeRule")
    if spec.points_expiry_days is not None:
        values["points_expiry_days"] = _days(spec.points_expiry_days, "pointsExpiryDays", low=1)
    elif spec.clear_points_expiry:
        values["points_expiry_days"] = None
    if spec.points_delay_days is not None:
        values["points_delay_days"] = _days(spec.points_delay_days, "pointsDelayDays", low=0)
    if spec.allow_negative is not None:
        values["allow_negative"] = spec.allow_negative
    if spec.goodwill_auto_approve_limit is not None:
        values["goodwill_auto_approve_limit"] = _amount(
            spec.goodwill_auto_approve_limit, "goodwillAutoApproveLimit"
        )
    return values


def _slabs(slabs: Sequence[SlabInput]) -> list[dict[str, Any]]:
    if not slabs or len(slabs) > MAX_SLABS:
        raise InvalidInput(generic.INVALID_INPUT, f"a program has 1 to {MAX_SLABS} slabs")
    checked = []
    names: set[str] = set()
    previous: Decimal | None = None
    for serial, slab in enumerate(slabs, start=1):
        name = _name(slab.name, f"slab {serial} name")
        if name.lower() in names:
            raise InvalidInput(generic.INVALID_INPUT, f"two slabs are named {name!r}")
        names.add(name.lower())
        threshold = _amount(slab.threshold, f"slab {name!r} threshold")
        if previous is None and threshold != 0:
            raise InvalidInput(
                generic.INVALID_INPUT, "the first slab is the entry slab: its threshold must be 0"
            )
        if previous is not None and threshold <= previous:
            raise InvalidInput(
                generic.INVALID_INPUT, "slab thresholds must rise with the serial number"
            )
        previous = threshold
        rate = Decimal(str(slab.earn_rate))
        if not rate.is_finite() or rate < 0 or rate > 1_000_000:
            raise InvalidInput(
                generic.INVALID_INPUT, f"slab {name!r}: earnRate must be from 0 to 1000000"
            )
        checked.append(
            {
                "name": name,
                "description": _description(slab.description),
                "threshold": threshold,
                "earn_rate": rate.quantize(Decimal("0.000001")),
                "validity_days": None
                if slab.validity_days is None
                else _days(slab.validity_days, f"slab {name!r} validityDays", low=1),
            }
        )
    return checked


def _name(raw: str | None, what: str) -> str:
    name = (raw or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(generic.INVALID_INPUT, f"{what}: 1 to {MAX_NAME_LENGTH} characters")
    if _CONTROL.search(name):
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must not contain control characters")
    return name


def _description(raw: str | None) -> str:
    text = (raw or "").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH or _CONTROL.search(text):
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"a description has at most {MAX_DESCRIPTION_LENGTH} printable characters",
        )
    return text


def _choice(raw: str, choices: tuple[str, ...], what: str) -> str:
    value = raw.strip().upper()
    if value not in choices:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be one of {', '.join(choices)}")
    return value


def _days(value: int, what: str, *, low: int) -> int:
    if not low <= value <= MAX_DAYS:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be from {low} to {MAX_DAYS}")
    return value


def _amount(value: Decimal | float, what: str) -> Decimal:
    number = Decimal(str(value))
    if not number.is_finite() or number < 0 or number > MAX_POINTS:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a number from 0 to {MAX_POINTS}")
    return money(number)


def _check_number(number: int, what: str) -> None:
    if not 1 <= number <= MAX_ID:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} must be a whole number from 1 to {MAX_ID}"
        )
