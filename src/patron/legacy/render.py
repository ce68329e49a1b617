"""The answers of ``POST /api/batch``: the XML of the original API, its JSON, and JSONP.

XML is built with :mod:`xml.etree.ElementTree`, which escapes every value; characters
XML 1.0 cannot carry at all (most control characters) are replaced first, so the
answer is always well-formed whatever the data held.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from patron.legacy.form import Output

XML_TYPE = "application/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
JSONP_TYPE = "application/javascript; charset=utf-8"
COUNTS = ("new", "updated", "skipped", "rejected")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class RowResult:
    """One line of the batch: its outcome, the ids to record, and why it was refused."""

    line: int  # from 1, counting the non-empty lines of Profiles_Data
    status: str  # new | updated | skipped | rejected
    customer_id: int | None = None
    code: str | None = None
    card_number: str | None = None
    errors: list[tuple[int, str]] = field(default_factory=list)
    notices: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchResult:
    import_id: int
    undo_state: int | None  # the undo state's id, when one was recorded
    counts: dict[str, int]  # new, updated, skipped, rejected
    rows: list[RowResult]


@dataclass(frozen=True)
class Rendered:
    body: str
    media_type: str


def success(result: BatchResult, output: Output) -> Rendered:
    """``<response status="success"><batch status="imported">...`` or its JSON."""
    if output.format == "xml":
        return Rendered(_xml(_success_element(result)), XML_TYPE)
    return _json(document(result), output)


def error(code: int, message: str, output: Output) -> Rendered:
    """``<response status="error"><error>message</error></response>`` or its JSON."""
    if output.format == "xml":
        root = ET.Element("response", status="error")
        _text(ET.SubElement(root, "error", code=str(code)), message)
        return Rendered(_xml(root), XML_TYPE)
    return _json(error_document(code, message), output)


def document(result: BatchResult) -> dict[str, Any]:
    """The JSON answer of a successful batch, as a document (what an idempotent request
    stores; :func:`rendered` turns it into any format)."""
    batch: dict[str, Any] = {"status": "imported", "import": result.import_id}
    if result.undo_state is not None:
        batch["undo_state"] = result.undo_state
    batch["customers"] = {name: result.counts.get(name, 0) for name in COUNTS}
    batch["rows"] = [_row_json(row) for row in result.rows]
    return {"response": {"status": "success", "batch": batch}}


def error_document(code: int, message: str) -> dict[str, Any]:
    """The JSON answer of a refused batch, as a document."""
    return {"response": {"status": "error", "error": message, "code": code}}


def rendered(answer: dict[str, Any], output: Output) -> Rendered:
    """A :func:`document` or :func:`error_document` in the format ``output`` asks for."""
    response = answer["response"]
    if response["status"] == "error":
        return error(int(response["code"]), str(response["error"]), output)
    batch = response["batch"]
    rows = [
        RowResult(
            line=int(row["line"]),
            status=str(row["status"]),
            customer_id=row.get("customer_id"),
            code=row.get("code"),
            card_number=row.get("card_number"),
            errors=[(int(e["code"]), str(e["message"])) for e in row.get("errors", [])],
            notices=[(int(n["code"]), str(n["message"])) for n in row.get("notices", [])],
        )
        for row in batch["rows"]
    ]
    result = BatchResult(
        import_id=int(batch["import"]),
        undo_state=batch.get("undo_state"),
        counts={name: int(batch["customers"][name]) for name in COUNTS},
        rows=rows,
    )
    return success(result, output)


def _success_element(result: BatchResult) -> ET.Element:
    root = ET.Element("response", status="success")
    attributes = {"status": "imported", "import": str(result.import_id)}
    if result.undo_state is not None:
        attributes["undo_state"] = str(result.undo_state)
    batch = ET.SubElement(root, "batch", attributes)
    customers = ET.SubElement(batch, "customers")
    for name in COUNTS:
        ET.SubElement(customers, name).text = str(result.counts.get(name, 0))
    rows = ET.SubElement(batch, "rows")
    for row in result.rows:
        attributes = {"line": str(row.line), "status": row.status}
        for name in ("customer_id", "code", "card_number"):
            found = getattr(row, name)
            if found is not None:
                attributes[name] = _clean(str(found))
        element = ET.SubElement(rows, "row", attributes)
        for tag, items in (("error", row.errors), ("notice", row.notices)):
            for code, message in items:
                _text(ET.SubElement(element, tag, code=str(code)), message)
    return root


def _row_json(row: RowResult) -> dict[str, Any]:
    found: dict[str, Any] = {"line": row.line, "status": row.status}
    for name in ("customer_id", "code", "card_number"):
        if getattr(row, name) is not None:
            found[name] = getattr(row, name)
    if row.errors:
        found["errors"] = [{"code": code, "message": message} for code, message in row.errors]
    if row.notices:
        found["notices"] = [{"code": code, "message": message} for code, message in row.notices]
    return found


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _text(element: ET.Element, text: str) -> None:
    element.text = _clean(text)


def _xml(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _json(body: dict[str, Any], output: Output) -> Rendered:
    separators = (",", ":") if output.condensed else None
    indent = None if output.condensed else 2
    if output.callback is None:
        text = json.dumps(body, ensure_ascii=False, indent=indent, separators=separators)
        return Rendered(text, JSON_TYPE)
    # ASCII only, so U+2028 / U+2029 cannot end a JavaScript string early; the leading
    # comment keeps the body from being read as anything but a script.
    text = json.dumps(body, ensure_ascii=True, indent=indent, separators=separators)
    return Rendered(f"/**/{output.callback}({text});", JSONP_TYPE)
