"""``patron export``: the profile list, filtered, to a CSV or XLSX file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patron.cli.common import OrgOption, acting_on, note, writable_file
from patron.codes import generic
from patron.exports import service
from patron.kit.errors import InvalidInput


def _filters(given: list[str]) -> dict[str, str | list[str]]:
    filters: dict[str, str | list[str]] = {}
    for text in given:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(generic.INVALID_INPUT, f"--filter takes KEY=VALUE, not {text!r}")
        if key.startswith(service.CUSTOM_FIELD_PREFIX):
            # A custom field may be given several times: any of the values.
            previous = filters.get(key, [])
            filters[key] = [*previous, value] if isinstance(previous, list) else [value]
        else:
            filters[key] = value
    return filters


def export(
    org: OrgOption,
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The file to write (.csv or .xlsx; the format follows the extension).",
            callback=writable_file,
            show_default=False,
        ),
    ],
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="A filter of the profile list as GET /v2/customers names it, KEY=VALUE "
            "(q, source, loyaltyType, statusLabel, fraudStatus, registeredFrom, registeredTo, "
            "store, customField.NAME); repeat for several.",
            show_default=False,
        ),
    ] = None,
    fields: Annotated[
        str,
        typer.Option(
            "--fields",
            help="all, displayed (the list's default columns) or field names separated by "
            "commas (id,firstName,mobile,customField.city).",
        ),
    ] = "all",
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="registeredAt, -registeredAt (the default: newest first), name or -name.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="csv or xlsx (default: the output file's extension, else csv).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export the org's profiles (filtered like the list) to a CSV or XLSX file."""
    suffix = output.suffix.lower().lstrip(".")
    written_as = fmt or (suffix if suffix in ("csv", "xlsx") else "csv")
    request = service.ExportRequest(
        filters=service.filters_from(_filters(filter_ or [])),
        sort=sort,
        fields=fields,
        format=written_as,
    )
    # Written to a temporary file beside the output, renamed once whole: a failed export
    # never leaves half a file under the name asked for.
    partial = output.with_name(f".{output.name}.partial")
    try:
        # Read in one read transaction (on SQLite other writers go on meanwhile)...
        with acting_on(org, write=False) as (conn, actor), partial.open("wb") as file:
            chosen, rows = service.export_to(conn, actor, request, file)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    # ... and audited in a short write transaction of its own.
    with acting_on(org) as (conn, actor):
        service.audit_export(conn, actor, chosen, rows)
    note(f"{rows:,} profiles written to {output}")
