"""The workbook reader's own process: calamine (through fastexcel) reads the workbook here.

    python -P sheets.py WORKBOOK OUTPUT MEMORY TEXT

calamine believes sizes and counts written in the file: a forged count in
``sharedStrings.xml`` or in an XLS ``DIMENSIONS`` record makes it ask for
terabytes, and a failed allocation aborts the whole process; a sparse or
repetitive sheet makes it hold gigabytes. Here that costs only this process. Once
the interpreter and the libraries are loaded, its data segment is capped so that
the whole process stays within MEMORY bytes: an allocation past the cap fails and
the process ends (``workbook.py`` reports why).

Every visible sheet is read as text; the one holding data is written to OUTPUT
(Arrow IPC) unless its cells hold more than TEXT bytes. One JSON line on stdout
says what was found: ``{"sheets": [...], "text": bytes}`` or ``{"error": "..."}``.

This file is run as a script, without the ``patron`` package: it imports only
what it needs, so that it starts fast.
"""

from __future__ import annotations

import json
import sys
from typing import Any

_LEAST = 16 * 1024 * 1024


def _status(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def _cap(memory: int) -> None:
    # RLIMIT_DATA counts the heap and every private writable mapping (Linux 4.7+):
    # what calamine, fastexcel and polars allocate, reserved or touched. What is
    # resident already (the interpreter, the libraries) is taken off the allowance.
    # Elsewhere (no /proc, no RLIMIT_DATA) the workbook is read without the cap.
    try:
        import resource

        allowance = max(memory - _status("VmRSS"), _LEAST)
        limit = _status("VmData") + allowance
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass


def _reason(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def read(source: str, target: str, most_text: int) -> dict[str, Any]:
    import fastexcel
    import polars as pl

    try:
        reader = fastexcel.read_excel(source)
        found: list[str] = []
        kept: pl.DataFrame | None = None
        for name in reader.sheet_names:
            sheet = reader.load_sheet(name, header_row=None, dtypes="string")
            # Hidden sheets (often the lists behind a template's drop-downs) and
            # empty ones are left out.
            if sheet.visible != "visible" or sheet.width == 0:
                continue
            frame = sheet.to_polars()
            if any(frame.select(pl.all().str.len_bytes().max()).row(0)):
                found.append(str(name))
                kept = frame if kept is None else kept
            del frame, sheet
    except Exception as exc:  # fastexcel raises its own tree, and plain errors on odd files
        return {"error": _reason(exc)}
    if len(found) != 1 or kept is None:
        return {"sheets": found}
    text = int(kept.estimated_size())
    if text <= most_text:
        kept.write_ipc(target)
    return {"sheets": found, "text": text}


def main(argv: list[str]) -> int:
    source, target, memory, most_text = argv[1], argv[2], int(argv[3]), int(argv[4])
    import fastexcel  # noqa: F401 - loaded before the cap: it is not the workbook's doing
    import polars  # noqa: F401

    _cap(memory)
    print(json.dumps(read(source, target, most_text)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
