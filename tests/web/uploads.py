"""Files for the console's upload tests: workbooks written in memory, and an org to import to."""

from __future__ import annotations

import io
from collections.abc import Sequence

import xlsxwriter
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import OrgHandle

#: A header the suggestions know, but "Member code" (no field's name or synonym).
HEADER = ["First Name", "Last Name", "Mobile", "Email", "Member code", "Store"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx(sheets: dict[str, Sequence[Sequence[str]]]) -> bytes:
    """A workbook with these sheets, every cell written as text."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write_string(r, c, value)
    book.close()
    return buffer.getvalue()


def people(first: int, count: int, *, bad: Sequence[int] = ()) -> list[list[str]]:
    """``count`` rows of people numbered from ``first``; the rows at ``bad`` (0-based) carry
    an invalid mobile number and an unknown store."""
    rows = []
    for n in range(first, first + count):
        index = n - first
        mobile = "12" if index in bad else f"9198000{n:05d}"
        store = "nowhere" if index in bad else "mal"
        rows.append(
            [f"Person{chr(65 + n % 26)}", "Test", mobile, f"p{n}@example.com", f"M{n}", store]
        )
    return rows


def store_org(engine: Engine, org: OrgHandle) -> None:
    """Give ``org`` the stores ``mal`` and ``blr``."""
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="store", code="mal")
        orgs.add_unit(conn, org.admin, kind="store", code="blr")
