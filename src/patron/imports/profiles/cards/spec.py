"""The Card Import profile's fields and template options."""

from __future__ import annotations

from patron.imports.customers import key_option
from patron.imports.profile import FieldSpec, OptionSpec, ProfileSpec
from patron.imports.profiles.card_series import STORE_FIELD
from patron.imports.stores import STORES_BY_EXTERNAL_ID

FIELDS = (
    FieldSpec(
        "card_number",
        "Card Number",
        "The card's number, as its series shapes it (prefix, suffix, length).",
        ("number", "card no", "card", "cardnumber"),
    ),
    FieldSpec(
        "series_code",
        "Card Series Code",
        "The code of the card's series (any letter case).",
        ("series code", "card series", "series"),
    ),
    FieldSpec(
        "status_label",
        "Card Status Label",
        "The card's status: an org label or NOT_ISSUED, ACTIVE, INACTIVE, DELETED, EXPIRED.",
        ("status label", "card status", "status", "label"),
    ),
    STORE_FIELD,
    FieldSpec(
        "user_id",
        "User Id",
        "patron's id of the customer who holds the card.",
        ("user id", "userid", "customer id"),
        "integer",
    ),
    FieldSpec("mobile", "Mobile", "The holder's mobile number.", ("mobile no", "phone")),
    FieldSpec("email", "Email", "The holder's email address.", ("email id", "e-mail")),
    FieldSpec(
        "external_id",
        "External Id",
        "The holder's id in the brand's systems.",
        ("customer external id", "externalid"),
    ),
    FieldSpec(
        "card_external_id",
        "Card External ID",
        "The card's id in the brand's systems (one card each).",
        ("card external id", "card uuid", "card ext id"),
    ),
)
LINK_USER = OptionSpec(
    "link_user",
    "bool",
    True,
    "Rows that name a customer give the card to that customer; off: the customer columns "
    "are ignored and cards are loaded without holders.",
)
SPEC = ProfileSpec(
    id="cards",
    name="Card Import",
    fields=FIELDS,
    options=(key_option(), LINK_USER, STORES_BY_EXTERNAL_ID),
)
