"""The ``patron`` command: every command group joined on one app."""

from __future__ import annotations

from typing import Annotated

import typer

from patron import __version__
from patron.cli import (
    batch,
    bootstrap,
    campaigns,
    cards,
    coupons,
    db,
    demo,
    exports,
    fields,
    imports,
    keys,
    labels,
    loyalty,
    orgs,
    server,
    stores,
    users,
)
from patron.cli.errors import PatronGroup

app = typer.Typer(
    cls=PatronGroup,
    name="patron",
    help="patron: customer profiles, identity resolution and the v2 Customer API. "
    "The database is chosen by PATRON_DATABASE_URL (default: the SQLite file patron.db in "
    "PATRON_DATA_DIR, which defaults to the user's data directory, e.g. ~/.local/share/patron).",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"patron {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """patron: customer profiles, identity resolution and the v2 Customer API."""


app.command("init")(bootstrap.init)
app.command("serve")(server.serve)
app.command("demo")(demo.demo)
app.command("import")(imports.import_file)
app.command("export")(exports.export)
app.add_typer(db.app, name="db")
app.add_typer(orgs.app, name="orgs")
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(stores.app, name="stores")
app.add_typer(fields.app, name="fields")
app.add_typer(labels.app, name="labels")
app.add_typer(imports.app, name="imports")
app.add_typer(cards.app, name="cards")
app.add_typer(coupons.app, name="coupons")
app.add_typer(campaigns.app, name="campaigns")
app.add_typer(loyalty.app, name="loyalty")
app.add_typer(batch.app, name="batch")

if __name__ == "__main__":
    app()
