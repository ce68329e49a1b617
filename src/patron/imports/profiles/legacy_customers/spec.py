"""Legacy Customers: the fields and options of the legacy batch API's customer rows.

The batch API (``POST /api/batch``, ``type=customers_batch``) is an adapter over the
import pipeline: its numbered headers are mapped to these fields, its
``overwrite_duplicates``, ``no_undo``, ``card_number_generate`` and
``campaigns_to_include`` become these options.

``customer_password`` and ``customer_PIN`` are not fields a column can be mapped to:
the pipeline keeps every mapped cell of a file as it came, and these two must never
be stored or shown in clear. The batch API hashes them (argon2id, and a keyed
HMAC-SHA256 for the PIN) before the import is created, stores the hashes beside the
import as the ``legacy:secrets`` frame, and leaves the two columns of the stored file
empty, so the report has them blank. The commit removes that frame.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from patron.imports import codes
from patron.imports.profile import FieldSpec, OptionSpec, ProfileSpec
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput

PROFILE_ID = "legacy-customers"
#: The frame of hashed passwords and PIN digests the batch API stores with the import.
SECRETS_KIND = "legacy:secrets"
SECRETS_SCHEMA = {
    "row": pl.Int64,
    "password_hash": pl.String,
    "pin_digest": pl.String,
    "password_problem": pl.String,
    "pin_problem": pl.String,
}
#: The header names of the two secret columns (never mapped; see the module docstring).
PASSWORD = "customer_password"  # noqa: S105 - a header name
PIN = "customer_PIN"
OVERWRITE_MODES = ("yes", "update", "ignore")
MAX_GENERATED_DIGITS = 64
CODE_DIGITS = 16

#: Import field -> identifier type in the profile store.
IDENTIFIER_TYPES = {"code": "externalId", "card_number": "cardnumber", "email": "email"}
NAME_FIELDS = ("first_name", "last_name")
#: Import field -> column of ``legacy_profiles``, with the longest value each accepts.
TEXT_FIELDS = {
    "phone": 50,
    "street1": 200,
    "street2": 200,
    "city": 100,
    "state": 100,
    "postal_code": 20,
    "country": 100,
    "custom_field": 255,
}
ATTRIBUTE_COLUMNS = {
    **{name: name for name in TEXT_FIELDS},
    "custom_date": "custom_date",
    "customer_username": "username",
    PASSWORD: "password_hash",
    PIN: "pin_digest",
}
#: What ``overwrite_duplicates=yes`` blanks on a matched customer before writing the row.
BLANKABLE = (*NAME_FIELDS, "email", *ATTRIBUTE_COLUMNS)

FIELDS = (
    FieldSpec(
        "code",
        "code",
        "The sender's id for the customer (stored as its external id); the key that finds "
        "an existing customer. Empty: a 16-digit id is generated.",
    ),
    FieldSpec(
        "card_number",
        "card_number",
        "The customer's card number (org-wide unique); finds the customer when there is no "
        "code. Empty: generated with card_number_generate.",
    ),
    FieldSpec("first_name", "first_name", "First name."),
    FieldSpec("last_name", "last_name", "Last name."),
    FieldSpec("email", "email", "Email address (org-wide unique)."),
    FieldSpec("phone", "phone", "Phone number, kept as written (not a mobile identifier)."),
    FieldSpec("custom_date", "custom_date", "A date, strictly YYYY-MM-DD.", kind="date"),
    FieldSpec("street1", "street1", "Address, first line."),
    FieldSpec("street2", "street2", "Address, second line."),
    FieldSpec("city", "city", "City."),
    FieldSpec("state", "state", "State or region."),
    FieldSpec("postal_code", "postal_code", "Postal code."),
    FieldSpec("country", "country", "Country."),
    FieldSpec("custom_field", "custom_field", "One free text field."),
    FieldSpec(
        "customer_username",
        "customer_username",
        "A user name for custom applications (unique in the org).",
    ),
    FieldSpec(
        "auto_add",
        "auto_add",
        "Added to the first campaign: points, visits or an amount (a number), or a "
        "product's name, by the campaign's type.",
    ),
    FieldSpec(
        "line_problem",
        "line problem",
        "Set by the batch API: why a line of the data could not be read; the row is "
        "rejected with it.",
    ),
)


class _Generate(OptionSpec):
    """``card_number_generate``: a number of digits, or nothing."""

    def parse(self, value: Any) -> Any:
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_GENERATED_DIGITS:
            raise InvalidInput(
                codes.INVALID_OPTION,
                f"option {self.name} takes a number of digits from 1 to "
                f"{MAX_GENERATED_DIGITS}, not '{value}'",
            )
        return int(text)


class _Campaigns(OptionSpec):
    """``campaigns``: campaign ids (numbers), the first one receiving ``auto_add``."""

    def parse(self, value: Any) -> Any:
        items = value if isinstance(value, list) else str(value).split(",")
        numbers: list[int] = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
                raise InvalidInput(
                    codes.INVALID_OPTION,
                    f"option {self.name} takes campaign ids (whole numbers), not '{text}'",
                )
            if int(text) not in numbers:
                numbers.append(int(text))
        return numbers


OPTIONS = (
    OptionSpec(
        "overwrite",
        "choice",
        "update",
        "For a customer already known: yes (blank its fields, then write the row), update "
        "(change only the fields the row gives) or ignore (skip the row).",
        choices=OVERWRITE_MODES,
    ),
    OptionSpec("no_undo", "bool", False, "Record no undo state: the batch cannot be undone."),
    _Generate(
        "card_number_generate",
        "integer",
        None,
        "Generate random all-numeric unique card numbers of this many digits where a row has none.",
    ),
    _Campaigns(
        "campaigns",
        "fields",
        [],
        "Campaign ids every customer of the batch is enrolled in; auto_add goes to the first.",
    ),
)

SPEC = ProfileSpec(id=PROFILE_ID, name="Legacy Customers", fields=FIELDS, options=OPTIONS)
