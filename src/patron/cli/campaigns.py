"""``patron campaigns``: the org's loyalty campaigns (points, visits, amount, product)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from patron.cli.common import JsonFlag, OrgOption, acting_on, print_json, print_record, print_table
from patron.kit.clock import iso
from patron.loyalty import service as loyalty

app = typer.Typer(help="Add and list loyalty campaigns.", no_args_is_help=True)

CampaignType = Literal["points", "visits", "amount", "product"]


@app.command("add")
def add(
    org: OrgOption,
    name: Annotated[str, typer.Option("--name", help="The campaign's name.", show_default=False)],
    kind: Annotated[
        CampaignType,
        typer.Option(
            "--type",
            help="What its balances count: points, visits, amount or product.",
            show_default=False,
        ),
    ],
    number: Annotated[
        int | None,
        typer.Option(
            "--id",
            help="The id integrations use (default: the next free one); give it to keep an "
            "existing integration's ids.",
            min=1,
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a campaign."""
    with acting_on(org) as (conn, actor):
        campaign = loyalty.add_campaign(conn, actor, name=name, type=kind, number=number)
    if as_json:
        print_json(_record(campaign))
        return
    print_record(f"Campaign added to {org}", _record(campaign))


@app.command("list")
def list_campaigns(
    org: OrgOption,
    limit: Annotated[int, typer.Option("--limit", help="Most campaigns to show.", min=1)] = 1000,
    offset: Annotated[int, typer.Option("--offset", help="Campaigns to skip first.", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List the org's campaigns by id."""
    with acting_on(org, write=False) as (conn, actor):
        found, total = loyalty.list_campaigns(conn, actor.org_id, limit, offset)
    if as_json:
        print_json([_record(campaign) for campaign in found])
        return
    shown = f"{offset + 1}-{offset + len(found)} of {total}" if found else f"none of {total}"
    print_table(
        f"Campaigns of {org}",
        ["id", "name", "type", "created"],
        [(c.number, c.name, c.type, c.created_at) for c in found],
        caption=shown,
    )


def _record(campaign: loyalty.Campaign) -> dict[str, Any]:
    return {**campaign.as_dict(), "created_at": iso(campaign.created_at)}
