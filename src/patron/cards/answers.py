"""The answers of ``/v2/cards/...``: their models, for the OpenAPI schema.

A card has the shape of the ``cardDetails`` entries of the v2 customer document
(:func:`patron.cards.service.render_card`); the seed's sample of one is its example.
The series and status label answers are patron's own (the seeds give no sample).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import Problem
from patron.kit.pagination import Pagination

Warnings = Annotated[list[Problem], Field(description="Warnings about the request.")]

#: A ``cardDetails`` entry of the v2 customer document's sample, with the ``expiryDate``
#: patron adds (null: the card does not expire).
CARD_SAMPLE: dict[str, Any] = {
    "cardId": 418,
    "issuedDate": "2021-11-23T10:01:33Z",
    "expiryDate": None,
    "createdDate": "2021-11-23",
    "expiryDays": 0,
    "seriesName": "sushicard",
    "customerId": 341594630,
    "maxActiveCards": 60,
    "cardExternalId": "orea7",
    "extendedFields": {
        "advance_card_personalisation": "yes",
        "card_balance": 1000.0,
        "year_of_registration": 18,
    },
    "customFields": {"cardname": "sushi", "cardscope": "global", "cardtype": "pro card"},
    "type": "DIGITAL",
    "cardNumber": "visasushi006",
    "seriesId": 23,
    "seriesCode": "422",
    "orgId": 50247,
    "entityId": 50016843,
    "statusInfo": {
        "reason": "",
        "createdBy": 50016843,
        "actions": [],
        "autoUpdateTime": "2021-11-23",
        "createdOn": "2021-11-23T10:01:33Z",
        "entityId": 418,
        "id": 478,
        "isActive": True,
        "labelId": 31,
        "label": "ACTIVE",
        "status": "ACTIVE",
    },
    "id": 418,
    "transactionNotAllowed": True,
}


class CardSeries(BaseModel):
    """A card series: the shape of its card numbers, their expiry and store."""

    id: int = Field(description="The series' id.")
    code: str = Field(description="Unique in the org whatever the letter case.")
    description: str = Field(description="What the series is.")
    type: str = Field(description="PHYSICAL or DIGITAL.")
    prefix: str = Field(description="What every card number of the series starts with.")
    suffix: str = Field(description="What every card number of the series ends with.")
    length: int | None = Field(description="The length of a card number, prefix and suffix in.")
    expiryDays: int | None = Field(description="How long a card is valid from its issue.")
    generationEnabled: bool = Field(description="Whether patron generates its card numbers.")
    unitId: int | None = Field(description="The store or till of the series, if any.")
    createdOn: str | None = Field(description="When the series was added (ISO 8601).")
    updatedOn: str | None = Field(description="When the series last changed (ISO 8601).")


class CardSeriesAnswer(BaseModel):
    """The card series added."""

    series: CardSeries
    warnings: Warnings


class CardSeriesPage(BaseModel):
    """A page of the org's card series."""

    pagination: Pagination
    data: list[CardSeries]
    warnings: Warnings


class GeneratedCards(BaseModel):
    """The card numbers generated."""

    cardNumbers: list[str] = Field(description="The new card numbers.")
    count: int = Field(description="How many were generated.")
    warnings: Warnings


class CardStatusLabel(BaseModel):
    """A card status label: a system status, or the org's own name for one."""

    id: int | None = Field(description="The label's id; null for a system status.")
    label: str = Field(description="The label.")
    systemStatus: str = Field(description="The system status it stands for.")
    builtIn: bool = Field(description="Whether it is a system status name.")


class CardStatusLabelAnswer(BaseModel):
    """The card status label added."""

    statusLabel: CardStatusLabel
    warnings: Warnings


class CardStatusLabelList(BaseModel):
    """The card status labels: the system statuses, then the org's own."""

    data: list[CardStatusLabel]
    warnings: Warnings


class CardStatusInfo(BaseModel):
    """A card's status."""

    reason: str = Field(description="Why the status was set (empty so far).")
    createdBy: int | None = Field(description="Who set the status (not recorded: null).")
    actions: list[Any] = Field(description="Actions of the status (none).")
    autoUpdateTime: str | None = Field(description="When the card last changed (ISO 8601).")
    createdOn: str | None = Field(description="When the card last changed (ISO 8601).")
    entityId: int = Field(description="The card's id.")
    id: int | None = Field(description="The status entry's id (not recorded: null).")
    isActive: bool = Field(description="Whether the card is issued and usable.")
    labelId: int | None = Field(description="The org label's id; null for a system status.")
    label: str = Field(description="The status label, as the org names it.")
    status: str = Field(description="The system status.")


class Card(BaseModel):
    """A card, as the customer document's ``cardDetails`` shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [CARD_SAMPLE]})

    cardId: int = Field(description="The card's id.")
    issuedDate: str | None = Field(description="When the card was issued (ISO 8601).")
    expiryDate: str | None = Field(description="When the card expires (ISO 8601).")
    createdDate: str | None = Field(description="The day the card was added.")
    expiryDays: int = Field(description="How long a card of the series is valid (0: always).")
    seriesName: str = Field(description="The series' description, else its code.")
    customerId: int | None = Field(description="The customer holding the card, if any.")
    maxActiveCards: int | None = Field(description="Not limited by patron: null.")
    cardExternalId: str | None = Field(description="The card's id in another system.")
    extendedFields: dict[str, Any] = Field(description="The card's extended fields.")
    customFields: dict[str, Any] = Field(description="The card's custom fields.")
    type: str = Field(description="PHYSICAL or DIGITAL (the series').")
    cardNumber: str = Field(description="The card number.")
    seriesId: int = Field(description="The series' id.")
    seriesCode: str = Field(description="The series' code.")
    orgId: int = Field(description="The org's id.")
    entityId: int | None = Field(description="The store or till of the card, if any.")
    statusInfo: CardStatusInfo
    id: int = Field(description="The card's id.")
    transactionNotAllowed: bool = Field(description="Whether the card cannot be used.")


class CardAnswer(BaseModel):
    """One card."""

    card: Card
    warnings: Warnings


class CardPage(BaseModel):
    """A page of the org's cards."""

    pagination: Pagination
    data: list[Card]
    warnings: Warnings
