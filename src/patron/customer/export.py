"""The data-subject export (``GET /v2/customers/{id}/export``): everything patron holds on
a person, as one JSON document, or a ZIP of that document and the customer's image.

The document has one section per table of :data:`patron.customer.personal_data.HOLDINGS`
(the rows naming the customer or a customer merged into it, every column as stored
but the org id; credential hashes only as whether they are set), the line items and
returns of its bills, and the rows of stored import files that named it. Reading it
is audited (``customer.export``, without personal data).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.customer import care_repository, export_repository, image, import_rows, lookup
from patron.customer.personal_data import HOLDINGS, Holding, holdings_by_table
from patron.kit.clock import iso, utcnow
from patron.kit.errors import Forbidden, InvalidInput

FORMATS = ("json", "zip")


@dataclass(frozen=True)
class Attachment:
    """A file of the ZIP beside the document (the customer's image)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Export:
    """The export of one person: the document and, for the ZIP, its files."""

    customer_id: int
    document: dict[str, Any]
    attachments: list[Attachment]

    def json_bytes(self) -> bytes:
        return json.dumps(self.document, ensure_ascii=False, indent=2).encode("utf-8")

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"customer-{self.customer_id}.json", self.json_bytes())
            for attachment in self.attachments:
                archive.writestr(attachment.name, attachment.content)
        return buffer.getvalue()


def export_format(raw: str | None) -> str:
    """``format``: ``json`` (the default) or ``zip`` (400 otherwise)."""
    chosen = (raw or "json").strip().lower() or "json"
    if chosen not in FORMATS:
        raise InvalidInput(generic.INVALID_INPUT, f"format must be one of {', '.join(FORMATS)}")
    return chosen


def export_customer(conn: Connection, actor: Actor, customer_id: int, fmt: str) -> Export:
    """Everything patron holds on the customer and those merged into it (admin only).

    A merge victim's id exports its survivor (warning 91009 in the document).
    """
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "exporting a customer's data needs the admin role")
    resolved = lookup.resolve(conn, actor.org_id, customer_id)
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    ordered = [resolved.id, *(i for i in family if i != resolved.id)]
    document: dict[str, Any] = {
        "customerId": resolved.id,
        "customerIds": ordered,
        "exportedOn": iso(utcnow()),
        "exportedBy": actor.name,
    }
    rows = 0
    for holdings in holdings_by_table().values():
        found = export_repository.rows_naming(
            conn, actor.org_id, holdings[0].table, [h.column for h in holdings], ordered
        )
        document[holdings[0].section] = [_row(record, holdings[0]) for record in found]
        rows += len(found)
        for child in holdings[0].children:
            parents = [int(record["id"]) for record in found]
            children = export_repository.child_rows(
                conn, actor.org_id, child.table, child.key, parents
            )
            document[child.section] = [_row(record) for record in children]
            rows += len(children)
    document["importRows"] = import_rows.rows_naming(conn, actor.org_id, ordered)
    # The image's bytes travel as files of the ZIP; the document describes them.
    attachments = [
        Attachment(name, content)
        for name, content in image.attachments(conn, actor.org_id, ordered)
    ]
    document["warnings"] = [w.as_dict() for w in resolved.warnings]
    audit(
        conn,
        actor,
        "customer.export",
        "customer",
        resolved.id,
        {
            "format": fmt,
            "customers": len(ordered),
            "rows": rows,
            "importRows": len(document["importRows"]),
        },
    )
    return Export(resolved.id, document, attachments)


def sections() -> list[str]:
    """The names of the document's sections, in order (without the header fields)."""
    names: list[str] = []
    for holding in HOLDINGS:
        for name in (holding.section, *(child.section for child in holding.children)):
            if name not in names:
                names.append(name)
    return [*names, "importRows"]


def _row(record: RowMapping, holding: Holding | None = None) -> dict[str, Any]:
    hidden = holding.hidden if holding else ()
    shown: dict[str, Any] = {}
    for column, value in record.items():
        if column == "org_id":
            continue
        if column in hidden:
            shown[column] = "(set)" if value else None
            continue
        shown[column] = _plain(value)
    return shown


def _plain(value: Any) -> Any:
    """A stored value as JSON: times in ISO 8601 (UTC), decimals as numbers."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | memoryview):
        return None  # binary content travels as a file of the ZIP
    return value
