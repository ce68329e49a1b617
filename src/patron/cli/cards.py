"""``patron cards``: card series, cards and card status labels."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.engine import RowMapping

from patron.cards import generation, service
from patron.cli.common import JsonFlag, OrgOption, acting_on, print_json, print_record, print_table

app = typer.Typer(help="Card series, cards and card status labels.", no_args_is_help=True)
series_app = typer.Typer(help="Add and list card series.", no_args_is_help=True)
labels_app = typer.Typer(help="Add and list card status labels.", no_args_is_help=True)
app.add_typer(series_app, name="series")
app.add_typer(labels_app, name="labels")

SERIES_COLUMNS = (
    "id",
    "code",
    "description",
    "type",
    "prefix",
    "suffix",
    "length",
    "expiryDays",
    "generationEnabled",
    "unitId",
)


@series_app.command("add")
def add_series(
    code: Annotated[
        str,
        typer.Argument(
            help="The series' code: letters and digits, at most 50.",
            metavar="CODE",
            show_default=False,
        ),
    ],
    org: OrgOption,
    card_type: Annotated[
        str,
        typer.Option("--type", help="PHYSICAL or DIGITAL (any letter case).", show_default=False),
    ],
    description: Annotated[
        str, typer.Option("--description", help="What the series is, e.g. Gold Card.")
    ] = "",
    prefix: Annotated[
        str, typer.Option("--prefix", help="The characters every card number starts with.")
    ] = "",
    suffix: Annotated[
        str, typer.Option("--suffix", help="The characters every card number ends with.")
    ] = "",
    length: Annotated[
        int | None,
        typer.Option(
            "--length",
            help="The length of every card number, prefix and suffix included.",
            show_default=False,
        ),
    ] = None,
    expiry_days: Annotated[
        int | None,
        typer.Option(
            "--expiry-days",
            help="Days a card is valid from its issue (default: no expiry).",
            show_default=False,
        ),
    ] = None,
    generation_enabled: Annotated[
        bool,
        typer.Option(
            "--generate/--no-generate",
            help="Whether patron generates the series' card numbers (needs --length).",
        ),
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="The till or store the series is tagged to: code or external id.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a card series."""
    with acting_on(org) as (conn, actor):
        row = service.add_series(
            conn,
            actor,
            service.SeriesInput(
                code=code,
                card_type=card_type,
                description=description,
                prefix=prefix,
                suffix=suffix,
                length=length,
                expiry_days=expiry_days,
                generation_enabled=generation_enabled,
                store=store,
            ),
        )
    record = _series_record(row)
    if as_json:
        print_json(record)
        return
    print_record(f"Card series added to {org}", record)


@series_app.command("list")
def list_series(
    org: OrgOption,
    limit: Annotated[int, typer.Option("--limit", help="Most series to show.", min=1)] = 1000,
    offset: Annotated[int, typer.Option("--offset", help="Series to skip first.", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List the org's card series."""
    with acting_on(org, write=False) as (conn, actor):
        rows, total = service.list_series(conn, actor.org_id, limit, offset)
    records = [_series_record(row) for row in rows]
    if as_json:
        print_json({"total": total, "data": records})
        return
    shown = f"{offset + 1}-{offset + len(rows)} of {total}" if rows else f"none of {total}"
    # The JSON has every column; the table the ones that fit a terminal.
    columns = ("code", "type", "prefix", "suffix", "length", "expiryDays", "generationEnabled")
    print_table(
        f"Card series of {org}",
        ["code", "type", "prefix", "suffix", "length", "expiry days", "generates"],
        [tuple(record[c] for c in columns) for record in records],
        caption=shown,
    )


@app.command("generate")
def generate(
    org: OrgOption,
    series: Annotated[
        str,
        typer.Option(
            "--series", help="The code of a series that generates its numbers.", show_default=False
        ),
    ],
    count: Annotated[
        int, typer.Option("--count", help="How many cards to generate.", show_default=False)
    ],
    status_label: Annotated[
        str | None,
        typer.Option(
            "--status-label",
            help="The new cards' status label (default: NOT_ISSUED).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Generate new cards of a series; prints their numbers, one per line."""
    with acting_on(org) as (conn, actor):
        numbers = generation.generate(
            conn, actor, series_code=series, count=count, status_label=status_label
        )
    if as_json:
        print_json({"series": series, "cardNumbers": numbers})
        return
    for number in numbers:
        typer.echo(number)


@labels_app.command("add")
def add_label(
    label: Annotated[
        str, typer.Argument(help="The label's name.", metavar="LABEL", show_default=False)
    ],
    org: OrgOption,
    status: Annotated[
        str,
        typer.Option(
            "--status",
            help="The card system status it stands for: NOT_ISSUED, ACTIVE, INACTIVE, "
            "DELETED or EXPIRED.",
            show_default=False,
        ),
    ],
) -> None:
    """Add a card status label."""
    with acting_on(org) as (conn, actor):
        added = service.add_label(conn, actor, label=label, system_status=status)
    typer.echo(f"card status label {added.label!r} ({added.system_status}) added")


@labels_app.command("list")
def list_labels(org: OrgOption, as_json: JsonFlag = False) -> None:
    """List the card status labels: the system statuses and the org's own."""
    with acting_on(org, write=False) as (conn, actor):
        labels = [service.render_label(label) for label in service.labels(conn, actor.org_id)]
    if as_json:
        print_json(labels)
        return
    print_table(
        f"Card status labels of {org}",
        ["id", "label", "system status", "built in"],
        [(row["id"], row["label"], row["systemStatus"], row["builtIn"]) for row in labels],
    )


@app.command("show")
def show(
    number: Annotated[
        str, typer.Argument(help="The card's number.", metavar="NUMBER", show_default=False)
    ],
    org: OrgOption,
    as_json: JsonFlag = False,
) -> None:
    """Show a card: series, status, holder and dates."""
    with acting_on(org, write=False) as (conn, actor):
        card = service.get_card(conn, actor.org_id, number)
    if as_json:
        print_json(card)
        return
    print_record(
        f"Card {card['cardNumber']}",
        {
            "id": card["cardId"],
            "number": card["cardNumber"],
            "series": card["seriesCode"],
            "type": card["type"],
            "status label": card["statusInfo"]["label"],
            "status": card["statusInfo"]["status"],
            "customer id": card["customerId"],
            "external id": card["cardExternalId"],
            "store id": card["entityId"],
            "issued": card["issuedDate"],
            "expires": card["expiryDate"],
        },
    )


def _series_record(row: RowMapping) -> dict[str, Any]:
    rendered = service.render_series(row)
    return {column: rendered[column] for column in SERIES_COLUMNS}
