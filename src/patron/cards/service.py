"""Card series, card status labels and cards: the rules that need the database.

Errors carry patron's own codes (the seeds define none for cards):

    95101  NotFound      unknown card series
    95102  InvalidInput  a card series value is invalid (code, type, prefix, suffix, length...)
    95103  Conflict      a series with that code exists
    95104  InvalidInput  a card number does not fit its series (prefix, suffix, length)
    95105  InvalidInput  unknown card status label
    95107  Conflict      the card number belongs to a card of another series
    95108  InvalidInput  the series does not generate card numbers, or a wrong count
    95109  Conflict      the series has not enough free card numbers left
    95110  NotFound      unknown card
    95111  Conflict      a card status label of that name exists
    95112  InvalidInput  a card status label or its system status is invalid

Warning 95001: a ``cardnumber`` identifier names a card series the org does not
have; the number is kept as a plain identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.cards import repository, rules
from patron.codes import cards
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.clock import iso
from patron.kit.errors import Conflict, InvalidInput, NotFound
from patron.orgs import service as orgs

_CONTROL = re.compile(CONTROL_CHARACTERS)


# --- card series ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInput:
    """A new card series, as the API, the CLI and the import describe it."""

    code: str
    card_type: str
    description: str = ""
    prefix: str = ""
    suffix: str = ""
    length: int | None = None
    expiry_days: int | None = None
    generation_enabled: bool = False
    store: str | None = None  # a till or store: its code or external id


def add_series(conn: Connection, actor: Actor, body: SeriesInput) -> RowMapping:
    """Create a card series; its code is unique in the org whatever the letter case."""
    values = _series_values(conn, actor.org_id, body)
    if repository.find_series(conn, actor.org_id, values["code"]) is not None:
        raise Conflict(cards.SERIES_EXISTS, f"a card series with code {values['code']} exists")
    series_id = repository.insert_series(conn, {"org_id": actor.org_id, **values})
    audit(conn, actor, "card_series.add", "card_series", series_id, {"code": values["code"]})
    found = repository.get_series(conn, actor.org_id, series_id)
    assert found is not None
    return found


def _series_values(conn: Connection, org_id: int, body: SeriesInput) -> dict[str, Any]:
    code = body.code.strip()
    problem = rules.series_code_problem(code)
    card_type = rules.card_type(body.card_type)
    if problem is None and card_type is None:
        problem = f"the card type must be PHYSICAL or DIGITAL, not '{body.card_type}'"
    description = body.description.strip()
    if problem is None and len(description) > rules.DESCRIPTION_MAX_LENGTH:
        problem = f"a description has at most {rules.DESCRIPTION_MAX_LENGTH} characters"
    prefix, suffix = body.prefix.strip(), body.suffix.strip()
    problem = (
        problem
        or rules.affix_problem(prefix, "prefix")
        or rules.affix_problem(suffix, "suffix")
        or rules.shape_problem(prefix, suffix, body.length, body.generation_enabled)
    )
    if problem is None and not 0 <= (body.expiry_days or 0) <= rules.EXPIRY_DAYS_MAX:
        problem = f"expiry days must be between 0 and {rules.EXPIRY_DAYS_MAX}"
    if problem is not None:
        raise InvalidInput(cards.SERIES_INVALID, f"invalid card series: {problem}")
    unit_id = None
    if body.store is not None and body.store.strip():
        unit = orgs.find_till(conn, org_id, body.store.strip())
        if unit is None:
            raise InvalidInput(
                cards.SERIES_INVALID, f"invalid card series: '{body.store}' is not a store or till"
            )
        unit_id = int(unit["id"])
    return {
        "code": code,
        "description": description,
        "card_type": card_type,
        "prefix": prefix,
        "suffix": suffix,
        "length": body.length,
        "expiry_days": body.expiry_days,
        "generation_enabled": body.generation_enabled,
        "unit_id": unit_id,
    }


def list_series(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the org's card series, oldest first."""
    return repository.list_series(conn, org_id, limit, offset)


def find_series(
    conn: Connection, org_id: int, *, series_id: int | None = None, code: str | None = None
) -> RowMapping | None:
    """A series by id, else by code (any letter case)."""
    if series_id is not None:
        return repository.get_series(conn, org_id, series_id)
    if code is not None and code.strip():
        return repository.find_series(conn, org_id, code.strip())
    return None


def require_series(
    conn: Connection, org_id: int, *, series_id: int | None = None, code: str | None = None
) -> RowMapping:
    """:func:`find_series`, or 95101."""
    found = find_series(conn, org_id, series_id=series_id, code=code)
    if found is None:
        named = series_id if series_id is not None else code
        raise NotFound(cards.SERIES_UNKNOWN, f"no card series {named} in this org")
    return found


def render_series(series: RowMapping) -> dict[str, Any]:
    """A series as the API shows it."""
    return {
        "id": series["id"],
        "code": series["code"],
        "description": series["description"],
        "type": series["card_type"],
        "prefix": series["prefix"],
        "suffix": series["suffix"],
        "length": series["length"],
        "expiryDays": series["expiry_days"],
        "generationEnabled": bool(series["generation_enabled"]),
        "unitId": series["unit_id"],
        "createdOn": iso(series["created_at"]),
        "updatedOn": iso(series["updated_at"]),
    }


# --- card status labels -------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A card status label: the org's name and the system status it stands for."""

    label: str
    system_status: str
    id: int | None = None  # None for a system status name

    @property
    def key(self) -> str:
        return rules.label_key(self.label)


def labels(conn: Connection, org_id: int) -> list[Label]:
    """The system status names, then the org's own labels."""
    builtin = [Label(status, status) for status in rules.SYSTEM_STATUSES]
    own = [
        Label(row["label"], row["system_status"], int(row["id"]))
        for row in repository.list_labels(conn, org_id)
    ]
    return builtin + own


def resolve_label(conn: Connection, org_id: int, text: str) -> Label | None:
    """The label ``text`` names (case, spaces, ``_`` and ``-`` set aside), if any."""
    key = rules.label_key(text)
    return next((label for label in labels(conn, org_id) if label.key == key), None)


def require_label(conn: Connection, org_id: int, text: str) -> Label:
    """:func:`resolve_label`, or 95105 listing the known labels."""
    found = resolve_label(conn, org_id, text)
    if found is None:
        known = ", ".join(label.label for label in labels(conn, org_id))
        raise InvalidInput(
            cards.LABEL_UNKNOWN, f"unknown card status label '{text}'; the labels are: {known}"
        )
    return found


def add_label(conn: Connection, actor: Actor, *, label: str, system_status: str) -> Label:
    """Add an org name for a card system status."""
    name = label.strip()
    status = rules.system_status(system_status)
    if status is None:
        raise InvalidInput(
            cards.LABEL_INVALID,
            f"the system status must be one of {', '.join(rules.SYSTEM_STATUSES)}, "
            f"not '{system_status}'",
        )
    if not name or len(name) > rules.LABEL_MAX_LENGTH or _CONTROL.search(name):
        raise InvalidInput(
            cards.LABEL_INVALID,
            f"a card status label has 1 to {rules.LABEL_MAX_LENGTH} printable characters",
        )
    if rules.system_status(name) is not None:
        raise InvalidInput(
            cards.LABEL_INVALID, f"'{name}' is a system status name, which is always a label"
        )
    if resolve_label(conn, actor.org_id, name) is not None:
        raise Conflict(cards.LABEL_EXISTS, f"the card status label '{name}' exists")
    label_id = repository.insert_label(
        conn, {"org_id": actor.org_id, "label": name, "system_status": status}
    )
    audit(conn, actor, "card_label.add", "card_status_label", label_id, {"system": status})
    return Label(name, status, label_id)


def render_label(label: Label) -> dict[str, Any]:
    return {
        "id": label.id,
        "label": label.label,
        "systemStatus": label.system_status,
        "builtIn": label.id is None,
    }


# --- cards ---------------------------------------------------------------------------------


def get_card(conn: Connection, org_id: int, number: str) -> dict[str, Any]:
    """A card of the org by number, as the API shows it (95110 when unknown)."""
    row = repository.get_card(conn, org_id, number.strip())
    if row is None:
        raise NotFound(cards.CARD_UNKNOWN, f"no card numbered {number.strip()} in this org")
    return render_card(row, _label_ids(conn, org_id))


def list_cards(
    conn: Connection,
    org_id: int,
    *,
    series_code: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the org's cards, optionally of one series and one system status."""
    series_id = None
    if series_code:
        series_id = int(require_series(conn, org_id, code=series_code)["id"])
    system = None
    if status:
        system = rules.system_status(status)
        if system is None:
            raise InvalidInput(
                cards.LABEL_INVALID, f"status must be one of {', '.join(rules.SYSTEM_STATUSES)}"
            )
    rows, total = repository.list_cards(
        conn, org_id, series_id=series_id, status=system, limit=limit, offset=offset
    )
    ids = _label_ids(conn, org_id)
    return [render_card(row, ids) for row in rows], total


def card_details(conn: Connection, org_id: int, customer_id: int) -> list[dict[str, Any]]:
    """The ``cardDetails`` of a customer's document: every card it holds."""
    rows = repository.cards_held_by(conn, org_id, customer_id)
    if not rows:
        return []
    ids = _label_ids(conn, org_id)
    return [render_card(row, ids) for row in rows]


def identifier_details(card_details: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per card number of ``card_details``: what its ``cardnumber`` identifier also shows."""
    return {
        card["cardNumber"]: {
            "seriesId": card["seriesId"],
            "seriesCode": card["seriesCode"],
            "statusLabel": card["statusInfo"]["label"],
            **({"cardExternalId": card["cardExternalId"]} if card["cardExternalId"] else {}),
        }
        for card in card_details
    }


def _label_ids(conn: Connection, org_id: int) -> dict[str, int]:
    return {label.key: label.id for label in labels(conn, org_id) if label.id is not None}


def render_card(row: RowMapping, label_ids: dict[str, int]) -> dict[str, Any]:
    """A card in the shape of the customer document's ``cardDetails`` entries."""
    created = iso(row["created_at"])
    status = row["status"]
    return {
        "cardId": row["id"],
        "issuedDate": iso(row["issued_at"]),
        "expiryDate": iso(row["expires_at"]),
        "createdDate": created[:10] if created else None,
        "expiryDays": row["expiry_days"] or 0,
        "seriesName": row["series_description"] or row["series_code"],
        "customerId": row["customer_id"],
        "maxActiveCards": None,
        "cardExternalId": row["external_id"],
        "extendedFields": row["extended_fields"] or {},
        "customFields": row["custom_fields"] or {},
        "type": row["card_type"],
        "cardNumber": row["number"],
        "seriesId": row["series_id"],
        "seriesCode": row["series_code"],
        "orgId": row["org_id"],
        "entityId": row["unit_id"],
        "statusInfo": {
            "reason": "",
            "createdBy": None,
            "actions": [],
            "autoUpdateTime": iso(row["updated_at"]),
            "createdOn": iso(row["updated_at"]),
            "entityId": row["id"],
            "id": None,
            "isActive": status == rules.ISSUED_STATUS,
            "labelId": label_ids.get(rules.label_key(row["status_label"])),
            "label": row["status_label"],
            "status": status,
        },
        "id": row["id"],
        "transactionNotAllowed": status != rules.ISSUED_STATUS,
    }
