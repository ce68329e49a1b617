"""V2 Profile Identifier Add/Update: its fields, its option, and the spellings it reads."""

from __future__ import annotations

import polars as pl

from patron.identity.types import IDENTIFIER_TYPES, Source
from patron.imports.profile import FieldSpec, OptionSpec, ProfileSpec

SINGLE_VALUED = ("mobile", "email", "externalId")
#: Change-log types of identifier changes, as ``changeIdentifier`` writes them.
CHANGE_TYPES = {"mobile": "MOBILE", "email": "EMAIL", "externalId": "EXTERNAL_ID"}
#: A source as people write it (case, spaces, dashes and underscores aside) -> the source.
_SOURCE_SPELLINGS = {source.value.replace("_", "").lower(): source.value for source in Source}
_TYPE_SPELLINGS = {kind.lower(): kind for kind in IDENTIFIER_TYPES} | {"card": "cardnumber"}

FIELDS = (
    FieldSpec("user_id", "User ID", "patron's customer id.", ("user id", "userid"), "integer"),
    FieldSpec(
        "source",
        "Source",
        "The source of the profile: INSTORE, WEB_ENGAGE, WECHAT, FACEBOOK, MOBILE_APP, LINE, ...",
        ("source", "channel source", "profile source"),
    ),
    FieldSpec(
        "account_id",
        "Account ID",
        "The account on that source (required for WECHAT, FACEBOOK, WEB_ENGAGE, MOBILE_APP, LINE).",
        ("account id", "accountid", "account"),
    ),
    FieldSpec(
        "identifier_type",
        "Identifier Type",
        "mobile, email, externalId, wechat, unionId, cuid, fbId, line, mobilePush, ...",
        ("identifier type", "type", "id type"),
    ),
    FieldSpec(
        "identifier_value",
        "Identifier Value",
        "The identifier, normalized by its type's rule (a mobile gets the org's rules).",
        ("identifier value", "value", "identifier"),
    ),
)
ALLOW_UPDATE = OptionSpec(
    "allow_updating_existing_identifier",
    "bool",
    False,
    "Replace an identifier of the same type that the profile (for mobile, email and external "
    "id: the customer) already has; otherwise such a row is rejected.",
)
SPEC = ProfileSpec(
    id="v2-profile-identifiers",
    name="V2 Profile Identifier Add/Update",
    fields=FIELDS,
    options=(ALLOW_UPDATE,),
)
IDENTIFIER_ROW = {
    "customer_id": pl.Int64,
    "profile_id": pl.Int64,
    "type": pl.String,
    "value": pl.String,
}
