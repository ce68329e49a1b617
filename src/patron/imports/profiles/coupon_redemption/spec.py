"""The Coupon Redemption profile's fields and template options."""

from __future__ import annotations

from typing import Any

from patron.imports.codes import INVALID_OPTION
from patron.imports.customers import key_option
from patron.imports.profile import FieldSpec, OptionSpec, ProfileSpec
from patron.imports.stores import STORES_BY_EXTERNAL_ID
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput

#: Fields a row of an existing redemption may change (``update_fields``).
UPDATABLE = ("store", "redeemed_date", "amount")
#: The fields a mapping must provide (the seed's mandatory ones).
REQUIRED = ("series_id", "coupon_code", "store", "customer", "redeemed_date", "transaction_number")
CODE_MAX_LENGTH = 64
TRANSACTION_MAX_LENGTH = 100
#: Amounts are stored as Numeric(18, 2).
AMOUNT_LIMIT = 1e16
FIELDS = (
    FieldSpec(
        "series_id",
        "Coupon Series Id",
        "The org's number of the coupon series (Voucher Series Id), e.g. 5309.",
        ("voucher series id", "series id", "coupon series", "series"),
        "integer",
    ),
    FieldSpec(
        "coupon_code",
        "Coupon Code",
        "The coupon's code in its series (Voucher Code).",
        ("voucher code", "coupon", "voucher", "code"),
    ),
    FieldSpec(
        "store",
        "Till IUN Or Store Ext Id",
        "The store or till the coupon was redeemed at (its code, or its external id with "
        "stores_by_external_id).",
        (
            "till iun",
            "store",
            "store code",
            "till",
            "store external id",
            "store terminal user name",
            "store terminal username",
        ),
    ),
    FieldSpec(
        "customer",
        "User Identification Input",
        "The customer who redeemed it, by the identifier unique_identifier chooses "
        "(mobile by default).",
        ("user identification", "customer", "user", "customer identifier"),
    ),
    FieldSpec(
        "redeemed_date",
        "Redeemed Date",
        "When the coupon was redeemed: a date or a date-time, ISO or in the template's "
        "date format; without an offset, UTC.",
        ("date of redemption", "redemption date", "redeemed on", "redeemed at", "date"),
        "date",
    ),
    FieldSpec(
        "transaction_number",
        "Transaction Number",
        "The bill the coupon was redeemed on (Bill Number).",
        ("bill number", "bill no", "transaction no", "transaction", "bill"),
    ),
    FieldSpec(
        "amount",
        "Transaction Amount",
        "The bill's amount (optional).",
        ("amount", "bill amount", "transaction value"),
        "number",
    ),
)
OPTIONS = (
    OptionSpec(
        "disable_existing_update",
        "bool",
        False,
        "A coupon that is already redeemed is not redeemed again: its rows are skipped.",
    ),
    STORES_BY_EXTERNAL_ID,
    OptionSpec(
        "update_fields",
        "fields",
        None,
        "The only fields a row of an existing redemption may change: store, redeemed_date, "
        "amount (default: every mapped one).",
    ),
    OptionSpec(
        "validate_transaction_number",
        "bool",
        False,
        "The transaction number must be a transaction the org recorded.",
    ),
    key_option(),
    OptionSpec(
        "skip_redemption_range_check",
        "bool",
        False,
        "Do not check the redemption date against the validity range of the coupon and its series.",
    ),
    OptionSpec(
        "replace_invalid_series_id",
        "text",
        None,
        "The coupon series id used wherever a row's series id is empty, invalid or unknown.",
    ),
    OptionSpec(
        "append_country_code",
        "bool",
        False,
        "National mobile numbers get the org's base country code.",
    ),
)
SPEC = ProfileSpec(id="coupon-redemption", name="Coupon Redemption", fields=FIELDS, options=OPTIONS)


def replacement_series(options: dict[str, Any]) -> int | None:
    """The series number of ``replace_invalid_series_id``, checked (96105)."""
    text = options.get("replace_invalid_series_id")
    if text is None:
        return None
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise InvalidInput(
            INVALID_OPTION, f"option replace_invalid_series_id takes a series id, not '{text}'"
        )
    return int(text)


def update_fields(options: dict[str, Any], mapped: set[str]) -> set[str]:
    """The fields rows of existing redemptions may change: ``update_fields`` (checked,
    96105) or every mapped one of :data:`UPDATABLE`."""
    chosen = options.get("update_fields")
    if chosen is None:
        return {name for name in UPDATABLE if name in mapped}
    unknown = sorted(set(chosen) - set(UPDATABLE))
    if unknown:
        raise InvalidInput(
            INVALID_OPTION,
            f"option update_fields: {', '.join(unknown)} cannot be updated; "
            f"fields: {', '.join(UPDATABLE)}",
        )
    return {name for name in chosen if name in mapped}
