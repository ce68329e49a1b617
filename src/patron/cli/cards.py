"""``patron cards``: card series, cards and card status labels."""

from __future__ import annotations

import typer

app = typer.Typer(help="Card series, cards and card status labels.", no_args_is_help=True)
