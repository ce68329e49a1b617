"""Success answers of the core customer API, as ``/openapi.json`` states them.

Each model is exactly what its endpoint returns, key by key: FastAPI filters the answer
through it. The answers are models; their parts (a profile, an identifier, a list entry)
are ``TypedDict`` classes, which Pydantic checks as plain dicts: on the hot paths
(``GET /v2/customers/{id}``, ``lookup``, ``customerDetails``) building a model object per
part cost about twice as much as checking dicts. A key an answer carries only
sometimes is ``NotRequired`` in a part (a card number's series) and stays out when absent;
in an answer it has a default (the parts of ``embed``) and the route sets
``response_model_exclude_unset``, so that it stays out rather than showing as ``null``.
Free-form maps (custom and extended fields, a channel's ``meta``) and the parts other
domains render (cards, loyalty embeds, images) are plain ``dict[str, Any]``.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from patron.api.contract import Problem


def _examples(*samples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(samples)})


Warnings = list[Problem]
_WARNINGS = "Warnings beside the success (e.g. 91009: a merge victim's survivor answered)."
_ERRORS = "Always empty on a success."


# -- Writes: register, update, change identifiers --------------------------------------------


REGISTER_SAMPLE: dict[str, Any] = {
    "createdId": 342963216,
    "warnings": [
        {
            "status": False,
            "code": 8050,
            "message": "Same Customer found in other sources,Combining",
        }
    ],
    "sideEffects": [],
}


class CustomerSaved(BaseModel):
    """A customer registered or updated."""

    model_config = _examples(REGISTER_SAMPLE)

    createdId: int = Field(description="The customer's id (the survivor's, after a combine).")
    warnings: Warnings = Field(description=_WARNINGS)
    sideEffects: list[dict[str, Any]] = Field(
        description="Incentives the change awarded: none are awarded by patron (always empty)."
    )


class IdentifiersChanged(BaseModel):
    """Identifiers added or removed."""

    model_config = _examples({"createdId": 382756026, "warnings": []})

    createdId: int = Field(description="The customer's id (the survivor's, after a merge).")
    warnings: Warnings = Field(description=_WARNINGS)


# -- Reads: look-up and the customer details -------------------------------------------------


class LookupAnswer(BaseModel):
    """The customer id behind an identifier."""

    model_config = _examples({"entity": 306, "warnings": []})

    entity: int = Field(description="The customer's id.")
    warnings: Warnings = Field(description=_WARNINGS)


class ChangedBy(TypedDict):
    """Who made or last changed a record."""

    code: Annotated[str | None, Field(description="The user's name.")]
    name: Annotated[str | None, Field(description="The user's name.")]
    type: Annotated[str, Field(description="Always USER.")]


class Attribution(TypedDict):
    """When and by whom a record was created and last changed."""

    createDate: Annotated[str | None, Field(description="Created, ISO 8601.")]
    createdBy: ChangedBy
    modifiedBy: ChangedBy
    modifiedDate: Annotated[str | None, Field(description="Last changed, ISO 8601.")]


class ShownIdentifier(TypedDict):
    """An identifier; a card number also shows its card's series and status label."""

    type: Annotated[str, Field(description="mobile, email, externalId, cardnumber, wechat...")]
    value: Annotated[str, Field(description="The stored (normalized) value.")]
    seriesId: NotRequired[Annotated[int | None, Field(description="A card number's series id.")]]
    seriesCode: NotRequired[
        Annotated[str | None, Field(description="A card number's series code.")]
    ]
    statusLabel: NotRequired[
        Annotated[str | None, Field(description="A card number's status label.")]
    ]
    cardExternalId: NotRequired[
        Annotated[str | None, Field(description="A card number's external id, when it has one.")]
    ]


class ShownChannel(TypedDict):
    """A communication channel of a profile."""

    type: Annotated[str, Field(description="mobile, email, wechat, mobilePush...")]
    value: Annotated[str, Field(description="The address, number or token.")]
    primary: Annotated[bool, Field(description="Whether it is the primary channel of its type.")]
    verified: Annotated[bool, Field(description="Whether it was verified (e.g. by OTP).")]
    meta: Annotated[dict[str, Any], Field(description="Free-form details given with the channel.")]
    attributes: Annotated[dict[str, Any], Field(description="Always empty.")]


class CustomerProfile(TypedDict):
    """The customer's profile on one source (and account)."""

    firstName: Annotated[str | None, Field(description="First name.")]
    lastName: Annotated[str | None, Field(description="Last name.")]
    attribution: Attribution
    fields: Annotated[dict[str, Any], Field(description="Custom field values, by field name.")]
    identifiers: Annotated[
        list[ShownIdentifier], Field(description="The identifiers of this profile.")
    ]
    commChannels: Annotated[list[ShownChannel], Field(description="The channels of this profile.")]
    source: Annotated[str, Field(description="INSTORE, WECHAT, MOBILE_APP...")]
    userId: Annotated[int, Field(description="The customer's id.")]
    accountId: Annotated[
        str, Field(description="The source's account ('' for single-account sources).")
    ]
    conflictingProfileList: Annotated[list[Any], Field(description="Always empty.")]
    autoUpdateTime: Annotated[str | None, Field(description="Last changed, ISO 8601.")]
    identifiersAll: Annotated[
        list[ShownIdentifier],
        Field(description="Every identifier of the customer, on every source."),
    ]


class LoyaltyInfo(TypedDict):
    """The customer's loyalty membership."""

    loyaltyType: Annotated[str, Field(description="loyalty or non_loyalty.")]
    attributionV2: Attribution
    lifetimePurchases: Annotated[
        float, Field(description="Bills less returns, of the customer and those merged into it.")
    ]


class CustomerStatus(TypedDict):
    """The customer's status label."""

    label: Annotated[str | None, Field(description="The org's status label.")]
    systemStatus: Annotated[
        str | None, Field(description="The system status the label belongs to.")
    ]


class FraudDetails(TypedDict):
    """The customer's fraud mark."""

    status: Annotated[str, Field(description="NOT_FRAUD, MARKED, CONFIRMED, RECONFIRMED...")]
    modifiedOn: Annotated[str | None, Field(description="When the mark last changed, ISO 8601.")]
    markedBy: Annotated[dict[str, Any], Field(description="Always empty.")]


DETAILS_SAMPLE: dict[str, Any] = {
    "id": 17742,
    "profiles": [
        {
            "firstName": "Tom",
            "lastName": "Sawyer",
            "attribution": {
                "createDate": "2016-06-23T19:11:18+08:00",
                "createdBy": {"code": "rr.till", "name": "rr.till", "type": "USER"},
                "modifiedBy": {"code": "rr.till", "name": "rr.till", "type": "USER"},
                "modifiedDate": "2016-08-12T18:50:23+08:00",
            },
            "fields": {"Gender": "Male", "Favorite Color": "Green"},
            "identifiers": [
                {"type": "line", "value": "lineAS6"},
                {
                    "type": "cardnumber",
                    "value": "TTM001110000000002ZS",
                    "seriesId": 19,
                    "seriesCode": "422",
                    "statusLabel": "ACTIVE",
                },
                {"type": "email", "value": "tom.sawyer@example.com"},
            ],
            "commChannels": [
                {
                    "type": "email",
                    "value": "tom@eail.com",
                    "primary": True,
                    "verified": False,
                    "meta": {"residence": False, "office": False},
                    "attributes": {},
                }
            ],
            "source": "WECHAT",
            "userId": 17742,
            "accountId": "wechat-con1",
            "conflictingProfileList": [],
            "autoUpdateTime": "2016-08-12T18:50:23+08:00",
            "identifiersAll": [
                {"type": "mobile", "value": "916722173368"},
                {"type": "email", "value": "6722173368@mail.com"},
            ],
        }
    ],
    "loyaltyInfo": {
        "loyaltyType": "non_loyalty",
        "attributionV2": {
            "createDate": "2016-06-23T19:11:18+08:00",
            "createdBy": {"code": "rr.till", "name": "rr.till", "type": "USER"},
            "modifiedBy": {"code": "rr.till", "name": "rr.till", "type": "USER"},
            "modifiedDate": "2016-08-12T18:50:23+08:00",
        },
        "lifetimePurchases": 230,
    },
    "status": {"label": "Active", "systemStatus": "ACTIVE"},
    "fraudDetails": {
        "status": "NOT_FRAUD",
        "modifiedOn": "2016-06-23T19:11:18+08:00",
        "markedBy": {},
    },
    "segments": {},
    "associatedWith": "rr.till",
    "extendedFields": {"city": "Bangalore", "gender": "Male"},
    "cardDetails": [],
    "warnings": [],
}


class CustomerDetails(BaseModel):
    """A customer: its profiles, loyalty, status and fraud mark, and what ``embed`` asks."""

    model_config = _examples(DETAILS_SAMPLE)

    id: int = Field(description="The customer's id (the survivor's, for a merge victim).")
    profiles: list[CustomerProfile] = Field(description="Its profiles, one per source/account.")
    loyaltyInfo: LoyaltyInfo
    status: CustomerStatus
    fraudDetails: FraudDetails
    segments: dict[str, Any] = Field(description="Always empty.")
    associatedWith: str = Field(description="The code of the unit it registered at, or ''.")
    extendedFields: dict[str, Any] = Field(description="Extended field values, by name.")
    cardDetails: list[dict[str, Any]] = Field(description="The cards it holds.")
    warnings: Warnings = Field(description=_WARNINGS)
    customerImage: list[dict[str, Any]] | None = Field(
        None, description="embed=CUSTOMERIMAGE: its image's file details (empty: none)."
    )
    subscriptionInfo: dict[str, Any] | None = Field(
        None, description="embed=subscriptions: its channel subscriptions."
    )
    pointsSummary: dict[str, Any] | None = Field(
        None, description="embed=points: the default program's points and slab."
    )
    loyaltyProgramDetails: list[dict[str, Any]] | None = Field(
        None, description="embed=mlp: points and slab per loyalty program."
    )
    promotionalPoints: dict[str, Any] | None = Field(
        None, description="embed=promotionalPoints: its promotional points."
    )
    expirySchedules: list[dict[str, Any]] | None = Field(
        None, description="embed=expirySchedules: its points' expiry schedule."
    )
    expiredPoints: dict[str, Any] | None = Field(
        None, description="embed=expiredPoints: its expired points."
    )


# -- Customer care: search, status, fraud, change history, deletion --------------------------


class OffsetPagination(TypedDict):
    """The page answered, and how many entries there are in all."""

    limit: Annotated[int, Field(description="The page size.")]
    offset: Annotated[int, Field(description="Entries skipped.")]
    total: Annotated[int, Field(description="Entries in all.")]


class MatchedIdentifier(TypedDict):
    """What matched the search keyword: a name or an identifier."""

    idType: Annotated[str, Field(description="firstName, lastName, or an identifier type.")]
    idValue: Annotated[str | None, Field(description="The matching value.")]
    source: Annotated[str, Field(description="The profile's source.")]
    accountId: Annotated[str, Field(description="The profile's account.")]


class FoundProfile(TypedDict):
    """A profile of a customer found."""

    source: Annotated[str, Field(description="The profile's source.")]
    accountId: Annotated[str, Field(description="The profile's account.")]
    firstName: Annotated[str | None, Field(description="First name.")]
    lastName: Annotated[str | None, Field(description="Last name.")]


class FoundCustomer(TypedDict):
    """A customer whose name or identifier starts with the keyword."""

    userId: Annotated[int, Field(description="The customer's id.")]
    matchedIdentifiers: list[MatchedIdentifier]
    profiles: list[FoundProfile]


class SearchAnswer(BaseModel):
    """A page of customers found."""

    model_config = _examples(
        {
            "pagination": {"limit": 10, "offset": 0, "total": 33},
            "data": [
                {
                    "userId": 261504789,
                    "matchedIdentifiers": [
                        {
                            "idType": "firstName",
                            "idValue": "Tom",
                            "source": "INSTORE",
                            "accountId": "",
                        }
                    ],
                    "profiles": [
                        {
                            "source": "INSTORE",
                            "accountId": "",
                            "firstName": "Tom",
                            "lastName": "Sawyer",
                        }
                    ],
                }
            ],
            "warnings": [],
            "errors": [],
        }
    )

    pagination: OffsetPagination
    data: list[FoundCustomer]
    warnings: Warnings = Field(description="Always empty.")
    errors: list[Problem] = Field(description=_ERRORS)


class StatusChanged(BaseModel):
    """A customer's status label changed."""

    model_config = _examples({"warnings": [], "errors": []})

    warnings: Warnings = Field(description=_WARNINGS)
    errors: list[Problem] = Field(description=_ERRORS)


class FraudStatusChanged(BaseModel):
    """A customer's fraud mark set or cleared."""

    model_config = _examples({"id": 17742, "fraudStatus": "MARKED", "warnings": []})

    id: int = Field(description="The customer changed (the survivor, for a merge victim).")
    fraudStatus: str = Field(description="Its fraud status now.")
    warnings: Warnings = Field(description=_WARNINGS)


class ChangeEntry(TypedDict):
    """One change of a customer (or of one merged into it)."""

    id: Annotated[int, Field(description="The change's id.")]
    status: Annotated[str, Field(description="Always APPROVED: changes apply at once.")]
    addedBy: ChangedBy
    updatedBy: ChangedBy
    addedOn: Annotated[str | None, Field(description="When, ISO 8601.")]
    updatedOn: Annotated[str | None, Field(description="When, ISO 8601.")]
    userId: Annotated[int, Field(description="The customer changed.")]
    changeType: Annotated[str, Field(description="What changed: IDENTIFIER_ADD, MERGE, STATUS...")]
    source: Annotated[str | None, Field(description="The source the change was made on.")]
    accountId: Annotated[str | None, Field(description="The account the change was made on.")]
    cause: Annotated[str | None, Field(description="What made the change: api, import, console...")]
    changeIdentifiers: NotRequired[
        Annotated[
            dict[str, list[Any]],
            Field(description="An identifier change: the identifiers added and removed."),
        ]
    ]
    details: NotRequired[
        Annotated[dict[str, Any], Field(description="Another change: what changed.")]
    ]
    comments: Annotated[str, Field(description="The reason given, or ''.")]
    oneStep: Annotated[bool, Field(description="Always true.")]


class ChangeRequestsAnswer(BaseModel):
    """A page of a customer's changes."""

    pagination: OffsetPagination
    data: list[ChangeEntry]
    warnings: Warnings = Field(description=_WARNINGS)
    errors: list[Problem] = Field(description=_ERRORS)


class CustomerDeleted(BaseModel):
    """A customer's personal data deleted."""

    model_config = _examples({"id": 17742, "deleted": True, "warnings": []})

    id: int = Field(description="The customer deleted.")
    deleted: bool = Field(description="Always true.")
    warnings: Warnings = Field(description="Always empty.")


# -- The list and bulk deletion --------------------------------------------------------------


class ListPagination(TypedDict):
    """Where the page is in the list."""

    limit: Annotated[int, Field(description="The page size.")]
    offset: Annotated[
        int | None, Field(description="Entries skipped (null when paging by cursor).")
    ]
    sort: Annotated[str, Field(description="The sort applied, e.g. -registeredAt.")]
    nextCursor: Annotated[
        str | None, Field(description="The cursor of the next page; null at the end.")
    ]
    total: NotRequired[
        Annotated[int | None, Field(description="Entries in all (with includeTotal=true).")]
    ]


class RegisteredAt(TypedDict):
    """The org unit (store, till) a customer registered at."""

    id: Annotated[int, Field(description="The unit's id.")]
    kind: Annotated[str, Field(description="The unit's kind.")]
    code: Annotated[str, Field(description="The unit's code.")]
    name: Annotated[str, Field(description="The unit's name.")]


class ListedCustomer(TypedDict):
    """A customer of the list."""

    id: Annotated[int, Field(description="The customer's id.")]
    firstName: Annotated[str | None, Field(description="First name (of its first profile).")]
    lastName: Annotated[str | None, Field(description="Last name (of its first profile).")]
    mobile: Annotated[str | None, Field(description="Its mobile, if any.")]
    email: Annotated[str | None, Field(description="Its email, if any.")]
    externalId: Annotated[str | None, Field(description="Its external id, if any.")]
    loyaltyType: Annotated[str, Field(description="loyalty or non_loyalty.")]
    statusLabel: Annotated[str | None, Field(description="Its status label.")]
    systemStatus: Annotated[str | None, Field(description="The label's system status.")]
    fraudStatus: Annotated[str, Field(description="Its fraud status.")]
    registeredAt: Annotated[str | None, Field(description="When it registered, ISO 8601.")]
    source: Annotated[str | None, Field(description="The source it registered on.")]
    accountId: Annotated[str, Field(description="The account it registered on.")]
    sources: Annotated[list[str], Field(description="Every source it has a profile on.")]
    store: Annotated[RegisteredAt | None, Field(description="The unit it registered at, if any.")]


class CustomerList(BaseModel):
    """A page of the org's customers."""

    pagination: ListPagination
    data: list[ListedCustomer]
    warnings: Warnings = Field(description="Always empty.")


class DeletionOutcome(TypedDict):
    """What became of one id of a bulk deletion."""

    id: Annotated[int, Field(description="The id given.")]
    status: Annotated[str, Field(description="deleted, notFound or refused.")]
    code: NotRequired[
        Annotated[int | None, Field(description="Why it was refused (e.g. 618, 8069).")]
    ]
    message: NotRequired[Annotated[str | None, Field(description="Why it was refused, in words.")]]


class BulkDeleteAnswer(BaseModel):
    """An answer per id of a bulk deletion."""

    model_config = _examples(
        {
            "data": [
                {"id": 17742, "status": "deleted"},
                {"id": 17743, "status": "notFound"},
                {
                    "id": 17744,
                    "status": "refused",
                    "code": 618,
                    "message": "Not allowed - customer is marked as fraud",
                },
            ],
            "deleted": 1,
            "warnings": [],
        }
    )

    data: list[DeletionOutcome]
    deleted: int = Field(description="How many were deleted.")
    warnings: Warnings = Field(description="Always empty.")


# -- Records: unmerge, consents, merges, export ----------------------------------------------


class Unmerged(BaseModel):
    """A merge reversed."""

    model_config = _examples(
        {
            "id": 17743,
            "survivorId": 17742,
            "mergeId": 12,
            "unmerged": True,
            "conflicts": [],
            "warnings": [],
        }
    )

    id: int = Field(description="The victim, live again.")
    survivorId: int = Field(description="The customer it had been merged into.")
    mergeId: int = Field(description="The merge reversed.")
    unmerged: bool = Field(description="Always true.")
    conflicts: list[str] = Field(description="What changed since the merge and was left alone.")
    warnings: Warnings = Field(description="Always empty.")


class ConsentUnit(TypedDict):
    """The org unit a consent was recorded at."""

    id: Annotated[int, Field(description="The unit's id.")]
    code: Annotated[str | None, Field(description="The unit's code.")]
    kind: Annotated[str | None, Field(description="The unit's kind.")]


class ConsentEntry(TypedDict):
    """One opt-in or opt-out."""

    id: Annotated[int, Field(description="The entry's id.")]
    userId: Annotated[int, Field(description="The customer it was recorded for.")]
    channel: Annotated[str, Field(description="EMAIL, SMS, ANDROID, IOS...")]
    priority: Annotated[str, Field(description="TRANS or BULK.")]
    type: Annotated[str, Field(description="OPTIN or OPTOUT.")]
    previousType: Annotated[str | None, Field(description="The state before, if any.")]
    orgUnit: Annotated[
        ConsentUnit | None, Field(description="Where it was recorded, if at a unit.")
    ]
    source: Annotated[str | None, Field(description="The source it came through.")]
    accountId: Annotated[str | None, Field(description="The source's account.")]
    reason: Annotated[str | None, Field(description="The reason given.")]
    addedBy: Annotated[str | None, Field(description="Who recorded it.")]
    origin: Annotated[str | None, Field(description="What recorded it: api, import, console...")]
    addedOn: Annotated[str | None, Field(description="When, ISO 8601.")]


class ConsentsAnswer(BaseModel):
    """A page of a customer's consent ledger."""

    pagination: OffsetPagination
    data: list[ConsentEntry]
    warnings: Warnings = Field(description=_WARNINGS)
    errors: list[Problem] = Field(description=_ERRORS)


class MergeEntry(TypedDict):
    """A merge the customer took part in."""

    mergeId: Annotated[int, Field(description="The merge's id.")]
    survivorId: Annotated[int, Field(description="The customer that stayed.")]
    victimId: Annotated[int, Field(description="The customer merged into it.")]
    status: Annotated[str, Field(description="MERGED or UNMERGED.")]
    mergedOn: Annotated[str | None, Field(description="When, ISO 8601.")]
    mergedBy: Annotated[str | None, Field(description="Who merged.")]
    cause: Annotated[str | None, Field(description="What merged: api, import, console...")]
    unmergedOn: Annotated[str | None, Field(description="When it was reversed, ISO 8601.")]
    unmergedBy: Annotated[str | None, Field(description="Who reversed it.")]
    unmergeCause: Annotated[str | None, Field(description="What reversed it.")]
    unmergeReason: Annotated[str | None, Field(description="The reason given for the reversal.")]


class MergesAnswer(BaseModel):
    """A page of the merges a customer took part in."""

    pagination: OffsetPagination
    data: list[MergeEntry]
    warnings: Warnings = Field(description=_WARNINGS)
    errors: list[Problem] = Field(description=_ERRORS)


class CustomerExport(BaseModel):
    """Everything patron holds on a person: a header, then one list of rows per table."""

    # The sections follow the tables that hold personal data: kept as they come.
    model_config = ConfigDict(extra="allow")

    customerId: int = Field(description="The customer exported (the survivor).")
    customerIds: list[int] = Field(description="It and every customer merged into it.")
    exportedOn: str | None = Field(description="When, ISO 8601.")
    exportedBy: str = Field(description="Who asked.")
    importRows: list[dict[str, Any]] = Field(description="Rows of import files naming them.")
    warnings: Warnings = Field(description=_WARNINGS)
