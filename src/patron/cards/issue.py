"""Issuing cards through the customer API: ``cardnumber`` identifiers that name a card.

Registration and ``changeIdentifier`` validate their identifiers first; for each
``cardnumber`` among them :func:`prepare` decides, before anything is written:

- it names a series (``seriesId`` / ``seriesCode``) the org has: the card of that
  series is issued, created when it does not exist yet (its number must fit the
  series, 95104); a card of another series with that number is refused (95107);
- it names a series the org does not have: warning 95001, the number stays a
  plain identifier;
- it names no series, but a card with that number exists: that card is issued;
- neither: a plain identifier (with warning 95001 when it carried card details).

A ``cardExternalId`` is set on the issued card; one that already names another
card of the org is refused (95113).

The identifier rules (one holder per number, merges across sources) apply to the
number as to any identifier. Once the identifiers are written, :func:`issue`
links each prepared card to the customer who holds its number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.cards import repository, rules, service
from patron.codes import cards as cards_codes
from patron.codes import customer
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, InvalidInput, Notice
from patron.orgs import service as orgs
from patron.orgs.fields import FieldDefinition, canonical_value
from patron.settings import get_settings


@dataclass(frozen=True)
class CardIssue:
    """A card to issue: its number, series, the card as stored (if any) and what changes."""

    number: str
    series: RowMapping
    existing: RowMapping | None
    label: service.Label | None  # None: the stored card keeps its label
    external_id: str | None  # None: the stored card keeps its external id
    custom_fields: dict[str, str]
    extended_fields: dict[str, str]


def prepare(
    conn: Connection,
    org_id: int,
    items: list[tuple[str, rules.CardRequest | None]],
    warnings: list[Notice],
) -> list[CardIssue]:
    """The cards that the ``(number, request)`` pairs issue; raises before anything is written."""
    prepared: list[CardIssue] = []
    definitions: list[FieldDefinition] | None = None
    for number, request in items:
        existing = repository.get_card(conn, org_id, number)
        if request is not None and request.names_series:
            series = service.find_series(
                conn, org_id, series_id=request.series_id, code=request.series_code
            )
            if series is None:
                warnings.append(
                    Notice(
                        cards_codes.SERIES_UNKNOWN_WARNING,
                        f"card series {request.series_ref} is not defined in this org: card "
                        f"number {number} was kept as a cardnumber identifier, without series, "
                        "status, external id or card fields",
                    )
                )
                continue
            _check_number(number, series, existing)
        elif existing is not None:
            series = service.require_series(conn, org_id, series_id=int(existing["series_id"]))
        else:
            if request is not None:
                warnings.append(
                    Notice(
                        cards_codes.SERIES_UNKNOWN_WARNING,
                        f"no card series given and no card numbered {number} exists: it was "
                        "kept as a cardnumber identifier, without status, external id or "
                        "card fields",
                    )
                )
            continue
        label = None
        if request is not None and request.status_label:
            label = service.require_label(conn, org_id, request.status_label)
        elif existing is None:
            label = service.require_label(conn, org_id, rules.ISSUED_STATUS)
        external_id = request.external_id if request is not None else None
        if external_id is not None:
            _check_external_id(conn, org_id, number, external_id, prepared)
        if definitions is None:
            definitions = orgs.list_fields(conn, org_id)
        prepared.append(
            CardIssue(
                number=number,
                series=series,
                existing=existing,
                label=label,
                external_id=external_id,
                custom_fields=card_fields(
                    request.custom_fields if request else None, definitions, kind="custom"
                ),
                extended_fields=card_fields(
                    request.extended_fields if request else None, definitions, kind="extended"
                ),
            )
        )
    return prepared


def _check_number(number: str, series: RowMapping, existing: RowMapping | None) -> None:
    if existing is not None:
        if int(existing["series_id"]) != int(series["id"]):
            raise Conflict(
                cards_codes.CARD_IN_OTHER_SERIES,
                f"card {number} belongs to series {existing['series_code']}, not {series['code']}",
            )
        return
    problem = rules.card_number_problem(number) or rules.misfit(
        number, series["prefix"], series["suffix"], series["length"]
    )
    if problem is not None:
        raise InvalidInput(
            cards_codes.CARD_MISFIT,
            f"card number {number} does not fit series {series['code']}: {problem}",
        )


def _check_external_id(
    conn: Connection, org_id: int, number: str, external_id: str, prepared: list[CardIssue]
) -> None:
    named = repository.get_card_by_external_id(conn, org_id, external_id)
    others = [named["number"]] if named is not None else []
    others += [card.number for card in prepared if card.external_id == external_id]
    for other in others:
        if other != number:
            raise Conflict(
                cards_codes.EXTERNAL_ID_TAKEN,
                f"card external id {external_id} already names card {other}, not {number}",
            )


def card_fields(
    values: dict[str, Any] | None, definitions: list[FieldDefinition], *, kind: str
) -> dict[str, str]:
    """Card-level custom (1017) or extended (91015) fields, checked against the org's own."""
    declared = {d.name.lower(): d for d in definitions if d.kind == kind and d.scope == "card"}
    code = customer.CUSTOM_FIELD_INVALID if kind == "custom" else customer.EXTENDED_FIELD_INVALID
    limit = get_settings().max_field_length
    result: dict[str, str] = {}
    for key, value in (values or {}).items():
        definition = declared.get(key.strip().lower())
        if definition is None:
            raise InvalidInput(code, f"{key!r} is not a card-level {kind} field of this org")
        text = canonical_value(definition, value, limit)
        if text is None:
            raise InvalidInput(
                code, f"card field {key!r} needs a {definition.data_type} value of at most "
                f"{min(definition.max_length or limit, limit)} characters",
            )  # fmt: skip
        result[definition.name] = text
    return result


def issue(conn: Connection, actor: Actor, customer_id: int, cards: list[CardIssue]) -> None:
    """Link the prepared cards to ``customer_id``, who now holds their numbers."""
    now = utcnow()
    for card in cards:
        series = card.series
        existing = card.existing
        label = card.label
        if existing is None:
            assert label is not None
            card_id = repository.insert_card(
                conn,
                {
                    "org_id": actor.org_id,
                    "series_id": int(series["id"]),
                    "number": card.number,
                    "status": label.system_status,
                    "status_label": label.label,
                    "customer_id": customer_id,
                    "unit_id": series["unit_id"],
                    "external_id": card.external_id,
                    "issued_at": now,
                    "expires_at": expiry(now, series["expiry_days"]),
                    "custom_fields": card.custom_fields or None,
                    "extended_fields": card.extended_fields or None,
                },
            )
        else:
            card_id = int(existing["id"])
            values: dict[str, Any] = {"customer_id": customer_id}
            if existing["customer_id"] != customer_id:
                values |= {"issued_at": now, "expires_at": expiry(now, series["expiry_days"])}
            if label is not None:
                values |= {"status": label.system_status, "status_label": label.label}
            if card.external_id is not None:
                values["external_id"] = card.external_id
            if card.custom_fields:
                values["custom_fields"] = {
                    **(existing["custom_fields"] or {}),
                    **card.custom_fields,
                }
            if card.extended_fields:
                values["extended_fields"] = {
                    **(existing["extended_fields"] or {}),
                    **card.extended_fields,
                }
            repository.update_card(conn, actor.org_id, card_id, values)
        audit(
            conn,
            actor,
            "card.issue",
            "card",
            card_id,
            {"series": series["code"], "customer": customer_id},
        )


def release(conn: Connection, org_id: int, numbers: list[str]) -> None:
    """The cards of removed ``cardnumber`` identifiers are held by nobody any more."""
    repository.release_cards(conn, org_id, numbers)


def expiry(issued: datetime, expiry_days: int | None) -> datetime | None:
    """When a card issued at ``issued`` expires: never, without (or with 0) expiry days."""
    return issued + timedelta(days=expiry_days) if expiry_days else None
