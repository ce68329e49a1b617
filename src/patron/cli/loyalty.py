"""``patron loyalty``: loyalty programs, a member's loyalty details, the daily job and the
ledger check.

Programs are written as the API's bodies (``POST /v2/loyalty/programs``), from a JSON
file; the ``--json`` output of every command has the API's shapes.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from patron.api.errors import describe_validation
from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    note,
    open_engine,
    print_json,
    print_record,
    print_table,
    readable_file,
)
from patron.codes import generic
from patron.customer import lookup
from patron.kit.errors import InvalidInput, PatronError
from patron.loyalty import details, expiry, ledger, programs, recommendations
from patron.loyalty.schemas import ProgramIn, program_input, render_program

app = typer.Typer(
    help="Loyalty programs, members' loyalty details, the daily points job and the ledger check.",
    no_args_is_help=True,
)
programs_app = typer.Typer(help="Define and list loyalty programs.", no_args_is_help=True)
app.add_typer(programs_app, name="programs")

ProgramFile = Annotated[
    Path,
    typer.Option(
        "--file",
        help="A JSON file with the program, as POST /v2/loyalty/programs takes it.",
        callback=readable_file,
        show_default=False,
    ),
]
ProgramNumber = Annotated[
    int, typer.Argument(help="The program's programId.", metavar="PROGRAM_ID", show_default=False)
]


def _body(path: Path) -> ProgramIn:
    try:
        return ProgramIn.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as error:
        raise InvalidInput(generic.INVALID_INPUT, f"{path}: not JSON ({error})") from None
    except ValidationError as error:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{path}: {describe_validation(error.errors())}"
        ) from None


def _show(program: programs.Program, title: str, as_json: bool) -> None:
    shown = render_program(program)
    if as_json:
        print_json(shown)
        return
    print_record(title, {k: v for k, v in shown.items() if k not in ("slabs", "partnerPrograms")})
    print_table(
        "Slabs",
        ["serial", "name", "threshold", "earn rate", "validity days"],
        [
            (s["serialNumber"], s["name"], s["threshold"], s["earnRate"], s["validityDays"])
            for s in shown["slabs"]
        ],
    )


@programs_app.command("add")
def add_program(org: OrgOption, file: ProgramFile, as_json: JsonFlag = False) -> None:
    """Create a program from a JSON file (its slabs, expiry, partner programs...)."""
    body = _body(file)
    if body.name is None:
        raise InvalidInput(generic.INVALID_INPUT, "name: a program needs a name")
    with acting_on(org) as (conn, actor):
        program = programs.add_program(conn, actor, program_input(body))
    _show(program, f"Loyalty program added to {org}", as_json)


@programs_app.command("change")
def change_program(
    number: ProgramNumber, org: OrgOption, file: ProgramFile, as_json: JsonFlag = False
) -> None:
    """Change a program: the fields the JSON file gives (slabs replace the program's)."""
    body = _body(file)
    with acting_on(org) as (conn, actor):
        program = programs.change_program(conn, actor, number, program_input(body))
    _show(program, f"Loyalty program {number} of {org}", as_json)


@programs_app.command("show")
def show_program(number: ProgramNumber, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Show a program with its slabs."""
    with acting_on(org, write=False) as (conn, actor):
        program = programs.get_program(conn, actor.org_id, number)
    _show(program, f"Loyalty program {number} of {org}", as_json)


@programs_app.command("list")
def list_programs(org: OrgOption, as_json: JsonFlag = False) -> None:
    """List the org's programs by programId."""
    with acting_on(org, write=False) as (conn, actor):
        found = programs.list_programs(conn, actor.org_id)
    if as_json:
        print_json([render_program(p) for p in found])
        return
    print_table(
        f"Loyalty programs of {org}",
        ["programId", "name", "default", "slabs", "expiry days", "delay days"],
        [
            (
                p.number,
                p.name,
                p.is_default,
                len(p.slabs),
                p.points_expiry_days,
                p.points_delay_days,
            )
            for p in found
        ],
    )


@app.command("details")
def member_details(
    customer: Annotated[
        int, typer.Argument(help="The customer's id.", metavar="CUSTOMER_ID", show_default=False)
    ],
    org: OrgOption,
    program: Annotated[
        int | None,
        typer.Option("--program", help="Only this program (its programId).", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a member's balances and slab in every program (or one)."""
    with acting_on(org, write=False) as (conn, actor):
        resolved = lookup.resolve(conn, actor.org_id, customer)
        found, warnings = details.loyalty_details(conn, actor.org_id, resolved, program)
    for warning in warnings:
        note(f"warning {warning.code}: {warning.message}")
    if as_json:
        print_json(found)
        return
    print_table(
        f"Loyalty of customer {resolved.id}",
        ["programId", "slab", "points", "lifetime", "purchases", "redeemed", "expired", "delayed"],
        [
            (
                d["programId"],
                d["currentSlab"],
                d["loyaltyPoints"],
                d["lifetimePoints"],
                d["cumulativePurchases"],
                d["redeemed"],
                d["expired"],
                d["delayedPoints"],
            )
            for d in found
        ],
    )


@app.command("expire")
def expire(
    org: OrgOption,
    day: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="The day to run for, YYYY-MM-DD (default: today in the org's time zone).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the daily points job by hand: release delayed points, expire points, end slabs."""
    when = _day(day)
    with acting_on(org) as (conn, actor):
        report = expiry.run_day(conn, actor.org_id, when)
    if as_json:
        print_json(report.as_dict())
        return
    print_record(f"Daily loyalty job of {org}", report.as_dict())


@app.command("check")
def check(org: OrgOption, as_json: JsonFlag = False) -> None:
    """Check that every balance is the sum of its ledger entries (exit 1 when not)."""
    with acting_on(org, write=False) as (conn, actor):
        found = ledger.check(conn, actor.org_id)
    if as_json:
        print_json(found)
    elif found:
        print_table(
            f"Balances of {org} that are not the sum of their entries",
            ["programId", "customer", "column", "balance", "entries"],
            [tuple(row.values()) for row in found],
        )
    else:
        note(f"every balance of {org} is the sum of its entries")
    if found:
        raise PatronError(generic.CHECK_FAILED, f"{len(found)} balances differ from their entries")


@app.command("refresh-recommendations")
def refresh_recommendations(org: OrgOption) -> None:
    """Compute the org's item-to-item recommendation scores now (the worker does it daily)."""
    with acting_on(org) as (conn, actor):
        kept = recommendations.refresh(conn, actor.org_id)
    note(f"{kept} item pairs scored for {org}")


@app.command("worker")
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run what is due for every org, then exit.")
    ] = False,
) -> None:
    """Run the daily loyalty jobs (besides or instead of the worker inside `patron serve`)."""
    with open_engine() as engine:
        if once:
            done = expiry.run_due(engine)
            refreshed = recommendations.refresh_due(engine)
            note(
                f"ran the daily points job of {len(done)} orgs, the recommendations of "
                f"{len(refreshed)}"
            )
            return
        loop = expiry.LoyaltyWorker(engine)
        loop.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            loop.stop()


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidInput(
            generic.INVALID_INPUT, f"--date must be a date in YYYY-MM-DD format, not {raw!r}"
        ) from None
