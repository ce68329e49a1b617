"""The profile page's loyalty forms: goodwill, deciding goodwill, transferring points.

Each form goes through the service the API's ``goodwillRequest`` and ``pointsTransfers``
use, so the same rules and codes apply; a refusal is shown beside its field and the
loyalty section is shown again (the fragment for htmx, the page otherwise).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.codes import generic
from patron.kit.errors import InvalidInput
from patron.loyalty import goodwill, transfers
from patron.web import forms
from patron.web.deps import admin, editor
from patron.web.routes.profile import ProfileId
from patron.web.routes.profile_forms import Section, change

router = APIRouter(include_in_schema=False)

#: Which field of a loyalty form a service's refusal concerns, by the start of its message.
_FIELD_OF_ERROR = {
    "points cannot be transferred": "to",  # before "points": the first prefix matching wins
    "points": "points",
    "approvedValue": "points",
    "reason": "reason",
    "comments": "comments",
    "notes": "notes",
    "Customer is not registered for the loyalty Program: customer": "to",
    "transferTo": "to",
    "No customer found": "to",
    "Unable to update loyalty points": "points",
    "Unable to fetch loyalty points": "program",
    "no loyalty program": "program",
    "Program": "program",
}
SECTION = Section(
    fragment="_loyalty.html",
    notice="loyalty_notice",
    anchor=lambda form: "loyalty",
    fields=_FIELD_OF_ERROR,
)


def _number(raw: str, what: str) -> Decimal:
    """A form's number (the service checks its range); a text that is no number is refused."""
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a number") from None


def _program(raw: str) -> int | None:
    """The chosen program's number; none given: the default program."""
    text = raw.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(generic.INVALID_INPUT, "Program: choose one of the org's programs")
    return int(text)


@router.post("/profiles/{customer_id:id}/loyalty/goodwill")
def request_goodwill(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    points: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    comments: Annotated[str, Form()] = "",
    program: Annotated[str, Form()] = "",
) -> Response:
    """Ask for goodwill points: granted at once within the program's limit, else pending."""

    def work(conn: Connection) -> str:
        spec = goodwill.GoodwillInput(
            points=_number(points, "points"),
            reason=reason,
            comments=comments,
            program_number=_program(program),
        )
        _, shown = goodwill.request_goodwill(conn, actor, customer_id, spec)
        if shown["goodwillStatus"] == "APPROVED":
            return f"Goodwill of {shown['approvedValue']} points granted."
        return "Goodwill requested: it waits for an admin's decision."

    typed = {"points": points, "reason": reason, "comments": comments, "program": program}
    return change(request, actor, customer_id, SECTION, "goodwill", typed, work)


@router.post("/profiles/{customer_id:id}/loyalty/goodwill/{request_id:id}")
def decide_goodwill(
    request: Request,
    actor: Annotated[Actor, Depends(admin)],
    customer_id: ProfileId,
    request_id: int,
    decision: Annotated[str, Form()] = "",
    comments: Annotated[str, Form()] = "",
) -> Response:
    """Approve or reject a pending goodwill request (admin)."""

    def work(conn: Connection) -> str:
        _, shown = goodwill.decide_goodwill(
            conn, actor, customer_id, request_id, status=decision, comments=comments
        )
        verdict = "approved" if shown["goodwillStatus"] == "APPROVED" else "rejected"
        return f"Goodwill request {request_id} {verdict}."

    return change(
        request, actor, customer_id, SECTION, f"decide-{request_id}", {"comments": comments}, work
    )


@router.post("/profiles/{customer_id:id}/loyalty/transfer")
def transfer_points(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    to_kind: Annotated[str, Form()] = "id",
    to: Annotated[str, Form()] = "",
    points: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    program: Annotated[str, Form()] = "",
) -> Response:
    """Give the member's points to another member, named by profile id or mobile."""

    def work(conn: Connection) -> str:
        amount = _number(points, "points")
        receiver = to.strip()
        if not receiver:
            raise InvalidInput(
                generic.INVALID_INPUT, "transferTo: enter the receiver's profile id or mobile"
            )
        if to_kind == "mobile":
            spec = transfers.TransferInput(
                points=amount,
                to_identifier_name="mobile",
                to_identifier_value=receiver,
                notes=notes,
                program_number=_program(program),
            )
        else:
            spec = transfers.TransferInput(
                points=amount,
                to_customer_id=forms.ids([receiver], label="transferTo: profile id")[0],
                notes=notes,
                program_number=_program(program),
            )
        _, shown = transfers.transfer(conn, actor, customer_id, spec)
        return f"{shown['pointsTransferred']:g} points transferred to profile #{shown['to']}."

    typed = {"to_kind": to_kind, "to": to, "points": points, "notes": notes, "program": program}
    return change(request, actor, customer_id, SECTION, "transfer", typed, work)
