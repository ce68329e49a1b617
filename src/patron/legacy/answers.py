"""The answers of ``/api/batch``, as ``/openapi.json`` declares them.

``POST /api/batch`` answers XML by default, or JSON or JSONP as its form asks; the models
here describe its JSON (the XML carries the same, as elements and attributes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from patron.imports.answers import ImportConflict
from patron.kit.pagination import Pagination


class BatchUndoState(BaseModel):
    """The undo state of a batch (its import's id)."""

    id: int = Field(description="The undo state's id (the batch's import).")
    state: str = Field(description="The batch import's state (committed, undone...).")
    undoable: bool = Field(description="Whether it can be undone now.")
    createdBy: str = Field(description="Who sent the batch.")
    createdAt: str | None = Field(description="When (ISO 8601).")
    committedAt: str | None = Field(description="When its commit ended.")
    undoneAt: str | None = Field(description="When its undo ended.")
    customers: dict[str, int] = Field(description="Customers per outcome (new, updated...).")
    undoConflicts: int | None = Field(description="Values its undo left alone; null before.")


class BatchUndoStateList(BaseModel):
    """A page of the org's batch undo states, newest first."""

    pagination: Pagination
    data: list[BatchUndoState]


class BatchUndone(BatchUndoState):
    """A batch undone, with what its undo left alone."""

    conflicts: list[ImportConflict] = Field(description="The first values left alone.")
    conflictCount: int = Field(description="How many values were left alone in all.")


class BatchMessage(BaseModel):
    """An error or notice of one line."""

    code: int = Field(description="The code (the import error table).")
    message: str = Field(description="In words.")


class BatchLine(BaseModel):
    """The outcome of one line of ``Profiles_Data``."""

    line: int = Field(description="The line, from 1, counting non-empty lines.")
    status: str = Field(description="new, updated, skipped or rejected.")
    customer_id: int | None = Field(None, description="The customer's id (to record).")
    code: str | None = Field(None, description="The customer's external code, when given.")
    card_number: str | None = Field(None, description="The card number, when one was issued.")
    errors: list[BatchMessage] | None = Field(None, description="Why the line was refused.")
    notices: list[BatchMessage] | None = Field(None, description="What was noted.")


class BatchCustomers(BaseModel):
    """Customers per outcome."""

    new: int
    updated: int
    skipped: int
    rejected: int


class BatchImported(BaseModel):
    """The batch as imported."""

    model_config = ConfigDict(populate_by_name=True)

    status: str = Field(description="imported.")
    import_: int = Field(alias="import", description="The batch's import id.")
    undo_state: int | None = Field(None, description="The undo state's id, when recorded.")
    customers: BatchCustomers
    rows: list[BatchLine]


class BatchSuccess(BaseModel):
    """``response`` of a batch imported."""

    status: str = Field(description="success.")
    batch: BatchImported


_SAMPLE: dict[str, Any] = {
    "response": {
        "status": "success",
        "batch": {
            "status": "imported",
            "import": 41,
            "undo_state": 41,
            "customers": {"new": 2, "updated": 1, "skipped": 0, "rejected": 0},
            "rows": [
                {"line": 1, "status": "new", "customer_id": 1201, "code": "C-1"},
                {"line": 2, "status": "new", "customer_id": 1202, "code": "C-2"},
                {"line": 3, "status": "updated", "customer_id": 977, "code": "C-3"},
            ],
        },
    }
}
#: The seed's XML answers (success, error), with the elements patron adds.
XML_SAMPLE = (
    '<response status="success"><batch status="imported" import="41" undo_state="41">'
    "<customers><new>2</new><updated>1</updated><skipped>0</skipped><rejected>0</rejected>"
    '</customers><rows><row line="1" status="new" customer_id="1201" code="C-1" />'
    '<row line="2" status="new" customer_id="1202" code="C-2" />'
    '<row line="3" status="updated" customer_id="977" code="C-3" /></rows></batch></response>'
)
XML_ERROR_SAMPLE = '<response status="error"><error code="401">Error message</error></response>'


class BatchAnswer(BaseModel):
    """The JSON answer of a batch imported (``output=json``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SAMPLE]})

    response: BatchSuccess


class BatchRefusal(BaseModel):
    status: Literal["error"] = "error"
    error: str = Field(description="What went wrong, in words.")
    code: int = Field(description="A stable code; see the error catalogue (docs/errors.md).")


class BatchError(BaseModel):
    """A batch refused, in JSON (``output=json``): the batch's own error shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"response": {"status": "error", "error": "Error message", "code": 401}}]
        }
    )

    response: BatchRefusal


def batch_responses() -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of ``POST /api/batch``: XML, JSON or JSONP, errors included."""
    success = {
        "model": BatchAnswer,
        "description": "The batch imported: counts and each line's outcome, in the format "
        "the form asks for (``output``: xml, json; ``callback`` for JSONP).",
        "content": {
            "application/xml": {"schema": {"type": "string"}, "example": XML_SAMPLE},
            "application/javascript": {"schema": {"type": "string"}},
        },
    }
    refused = {
        400: "The form is malformed or a value is invalid.",
        401: "No credentials in the form, or wrong ones.",
        403: "The credentials lack the role a batch needs.",
        409: "The batch collides with stored data, another import of the account is "
        "running, or a batch with the same Idempotency-Key is in progress.",
        413: "The form is larger than the limit.",
        503: "SQLite's write lock stayed with another writer past the busy timeout; "
        "nothing was changed.",
    }
    answers: dict[int | str, dict[str, Any]] = {200: success}
    # The batch answers its errors in its own shape, XML by default, JSON when asked.
    for status, description in refused.items():
        answers[status] = {
            "model": BatchError,
            "description": f"{description} The batch's own error shape, in the format the "
            'form asks for: `<response status="error"><error code="...">`, or '
            '`{"response": {"status": "error", "error": "...", "code": ...}}`.',
            "content": {
                "application/xml": {"schema": {"type": "string"}, "example": XML_ERROR_SAMPLE}
            },
        }
    return answers
