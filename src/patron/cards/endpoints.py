"""``/v2/cards/...``: card series, cards and their status labels."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, admin, editor, viewer
from patron.api.params import Paging
from patron.auth.actor import Actor
from patron.cards import generation, service
from patron.cards.answers import (
    CardAnswer,
    CardPage,
    CardSeriesAnswer,
    CardSeriesPage,
    CardStatusLabelAnswer,
    CardStatusLabelList,
    GeneratedCards,
)
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.db import retry_in_savepoint

router = APIRouter(prefix="/v2/cards", tags=["cards"], route_class=TransactionRoute)

_CONTROL = re.compile(CONTROL_CHARACTERS)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _printable(cls, value: object) -> object:
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


class CardSeriesIn(_Body):
    """A new card series."""

    code: str = Field(min_length=1, max_length=50)
    type: str = Field(max_length=16)
    description: str = Field(default="", max_length=500)
    prefix: str = Field(default="", max_length=50)
    suffix: str = Field(default="", max_length=50)
    length: int | None = None
    expiryDays: int | None = None
    generationEnabled: bool = False
    store: str | None = Field(default=None, max_length=100)


class GenerateIn(_Body):
    """How many cards to generate, of which series, with which status label."""

    seriesId: int | None = None
    seriesCode: str | None = Field(default=None, max_length=50)
    count: int
    statusLabel: str | None = Field(default=None, max_length=100)


class CardLabelIn(_Body):
    """A card status label over one of the card system statuses."""

    label: str = Field(min_length=1, max_length=100)
    systemStatus: str = Field(max_length=32)


@router.get("/series", response_model=CardSeriesPage)
def list_card_series(
    actor: Viewer,
    conn: Db,
    wanted: Paging,
) -> dict[str, Any]:
    """A page of the org's card series."""
    rows, total = service.list_series(conn, actor.org_id, wanted.limit, wanted.offset)
    return {
        "pagination": wanted.envelope(total),
        "data": [service.render_series(row) for row in rows],
        "warnings": [],
    }


@router.post("/series", response_model=CardSeriesAnswer)
def add_card_series(actor: Admin, conn: Db, body: CardSeriesIn) -> dict[str, Any]:
    """Create a card series: its code, type, card number shape, expiry and store."""
    # Retried when a concurrent request took the code first: the retry answers 95103.
    series = retry_in_savepoint(
        conn,
        lambda conn: service.add_series(
            conn,
            actor,
            service.SeriesInput(
                code=body.code,
                card_type=body.type,
                description=body.description,
                prefix=body.prefix,
                suffix=body.suffix,
                length=body.length,
                expiry_days=body.expiryDays,
                generation_enabled=body.generationEnabled,
                store=body.store,
            ),
        ),
    )
    return {"series": service.render_series(series), "warnings": []}


@router.post("/generate", response_model=GeneratedCards, responses=errors(404))
def generate_cards(actor: Editor, conn: Db, body: GenerateIn) -> dict[str, Any]:
    """Generate new card numbers of a generation-enabled series."""
    # Retried when a concurrent request used one of the drawn numbers first.
    numbers = retry_in_savepoint(
        conn,
        lambda conn: generation.generate(
            conn,
            actor,
            series_id=body.seriesId,
            series_code=body.seriesCode,
            count=body.count,
            status_label=body.statusLabel,
        ),
    )
    return {"cardNumbers": numbers, "count": len(numbers), "warnings": []}


@router.get("/statusLabels", response_model=CardStatusLabelList)
def list_card_labels(actor: Viewer, conn: Db) -> dict[str, Any]:
    """The card status labels: the system statuses and the org's own names for them."""
    labels = service.labels(conn, actor.org_id)
    return {"data": [service.render_label(label) for label in labels], "warnings": []}


@router.post("/statusLabels", response_model=CardStatusLabelAnswer)
def add_card_label(actor: Admin, conn: Db, body: CardLabelIn) -> dict[str, Any]:
    """Add an org name for a card system status."""
    label = retry_in_savepoint(
        conn,
        lambda conn: service.add_label(
            conn, actor, label=body.label, system_status=body.systemStatus
        ),
    )
    return {"statusLabel": service.render_label(label), "warnings": []}


@router.get("", response_model=CardPage, responses=errors(404))
def list_cards(
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    seriesCode: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """A page of the org's cards, optionally of one series and one system status."""
    cards, total = service.list_cards(
        conn,
        actor.org_id,
        series_code=seriesCode,
        status=status,
        limit=wanted.limit,
        offset=wanted.offset,
    )
    return {"pagination": wanted.envelope(total), "data": cards, "warnings": []}


@router.get("/{number}", response_model=CardAnswer)
def get_card(number: str, actor: Viewer, conn: Db) -> dict[str, Any]:
    """A card by its number: series, status, holder, dates."""
    card = service.get_card(conn, actor.org_id, number)
    return {"card": card, "warnings": []}
