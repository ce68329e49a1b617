"""Changing a customer's status label and fraud status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.customer import care_repository, lookup
from patron.customer.lookup import SourceAccount
from patron.kit.errors import InvalidInput, NotFound, Notice
from patron.orgs import service as orgs
from patron.orgs.settings import FRAUD_STATUSES

MAX_REASON_LENGTH = 500
#: Only deleting a customer may move it to a label over this system status.
DELETED = "Deleted"


def reason_text(raw: str | None, *, what: str) -> str:
    """A trimmed, mandatory reason (91003 when missing, blank or too long)."""
    reason = (raw or "").strip()
    if not reason:
        raise InvalidInput(customer_codes.VALIDATION_FAILED, f"a reason is required to {what}")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED,
            f"the reason may be at most {MAX_REASON_LENGTH} characters long",
        )
    return reason


def change_status(
    conn: Connection,
    actor: Actor,
    where: SourceAccount,
    identifier_name: str | None,
    identifier_value: str | None,
    *,
    label: str | None,
    reason: str | None,
    created_on: str | None = None,
) -> list[Notice]:
    """Move the customer holding an identifier to another status label of the org.

    Refuses a customer marked as fraud (618). Setting the label it already has
    changes nothing. Returns the warnings of the look-up.
    """
    reason = reason_text(reason, what="change a customer's status")
    name = (label or "").strip()
    if not name:
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED, "label is required: the status label to set"
        )
    effective = _timestamp(created_on)
    settings = orgs.get_settings(conn, actor.org_id)
    resolved = lookup.by_identifier(
        conn, actor.org_id, settings, identifier_name, identifier_value, where, for_update=True
    )
    customer = locked_customer(conn, actor.org_id, resolved.id)
    lookup.ensure_changeable(customer)
    labels = orgs.list_labels(conn, actor.org_id)
    target = next((row for row in labels if row["label"].lower() == name.lower()), None)
    if target is None:
        known = ", ".join(row["label"] for row in labels if row["system_status"] != DELETED)
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED,
            f"unknown status label {name!r}; the org's labels are: {known}",
        )
    if target["system_status"] == DELETED:
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED,
            f"the label {target['label']!r} marks deleted customers; "
            "delete the customer with DELETE /v2/customers/{id} instead",
        )
    current_id = int(customer["status_label_id"])
    if int(target["id"]) == current_id:
        return resolved.warnings
    current = next((row["label"] for row in labels if int(row["id"]) == current_id), "")
    care_repository.update_customer(
        conn,
        actor.org_id,
        [resolved.id],
        {"status_label_id": int(target["id"]), "modified_by": actor.name},
    )
    details: dict[str, Any] = {"from": current, "to": target["label"], "reason": reason}
    if effective is not None:
        details["createdOn"] = effective
    log_change(
        conn,
        actor,
        resolved.id,
        "STATUS",
        details,
        source=where.source,
        account_id=where.account_id,
    )
    audit(
        conn,
        actor,
        "customer.status",
        "customer",
        resolved.id,
        {"from": current, "to": target["label"]},
    )
    return resolved.warnings


def change_fraud_status(
    conn: Connection, actor: Actor, customer_id: int, *, status: str | None, reason: str | None
) -> tuple[int, str, list[Notice]]:
    """Mark or clear a customer as fraud; MARKED, CONFIRMED and RECONFIRMED freeze it (618).

    Returns the id of the (live) customer changed, its fraud status and warnings
    (91009 when ``customer_id`` was merged into another customer).
    """
    wanted = (status or "").strip().upper()
    if wanted not in FRAUD_STATUSES:
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED, f"status must be one of {', '.join(FRAUD_STATUSES)}"
        )
    reason = reason_text(reason, what="change a customer's fraud status")
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    current = str(locked_customer(conn, actor.org_id, resolved.id)["fraud_status"])
    if current == wanted:
        return resolved.id, current, resolved.warnings
    care_repository.update_customer(
        conn,
        actor.org_id,
        [resolved.id],
        {
            "fraud_status": wanted,
            "fraud_modified_at": datetime.now(UTC),
            "modified_by": actor.name,
        },
    )
    log_change(conn, actor, resolved.id, "FRAUD", {"from": current, "to": wanted, "reason": reason})
    audit(conn, actor, "customer.fraud", "customer", resolved.id, {"from": current, "to": wanted})
    return resolved.id, wanted, resolved.warnings


def locked_customer(conn: Connection, org_id: int, customer_id: int) -> RowMapping:
    """The customer row locked for a change, or 8015 if it was deleted meanwhile."""
    customer = care_repository.lock_customer(conn, org_id, customer_id)
    if customer is None or customer["deleted_at"] is not None:
        raise NotFound(
            customer_codes.CUSTOMER_NOT_FOUND, "No customer found with the given identifier"
        )
    return customer


def _timestamp(raw: str | None) -> str | None:
    """``createdOn``: an ISO 8601 date-time, kept as given (normalized) in the change log."""
    if raw is None or not raw.strip():
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED,
            f"createdOn must be an ISO 8601 date-time such as 2021-09-16T12:10:45Z, not {raw!r}",
        ) from None
    return parsed.isoformat()
