"""Codes of card series, cards and card status labels."""

from __future__ import annotations

from patron.codes import WARNING, Domain

DOMAIN = Domain(
    "Cards",
    "Card series, cards, card number generation and card status labels.",
)
_ = DOMAIN.code

SERIES_UNKNOWN_WARNING = _(
    95001,
    WARNING,
    (
        "A card names a series the org does not define: the number was kept as a plain card number"
        " identifier."
    ),
)
SERIES_UNKNOWN = _(95101, 404, "No such card series in the org.")
SERIES_INVALID = _(95102, 400, "A card series' definition is invalid.")
SERIES_EXISTS = _(95103, 409, "A card series with this code exists.")
CARD_MISFIT = _(95104, 400, "The card number does not fit its series (prefix, suffix, length).")
LABEL_UNKNOWN = _(95105, 400, "No card status label of this name.")
CARD_IN_OTHER_SERIES = _(95107, 409, "The card number belongs to another series.")
GENERATION_REFUSED = _(
    95108,
    400,
    "The card numbers asked cannot be generated (count out of range, series not generated).",
)
NUMBERS_EXHAUSTED = _(95109, 409, "The series has no room for that many more card numbers.")
CARD_UNKNOWN = _(95110, 404, "No card with this number in the org.")
LABEL_EXISTS = _(95111, 409, "A card status label of this name exists.")
LABEL_INVALID = _(95112, 400, "A card status label's definition is invalid.")
EXTERNAL_ID_TAKEN = _(95113, 409, "The card external id already names another card.")
