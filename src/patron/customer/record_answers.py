"""The answers of a customer's care records (notes, preferences, tickets), its image, its
referrals, bulk registration and groups, and the org's preference keys, referral campaigns
and hierarchies, as ``/openapi.json`` describes them.

Each model is the answer key by key, as the services build it. Where the seed has a sample
answer it is the model's example, completed with the keys patron adds to it (and rid of
the ones patron does not answer), so that every example is an answer patron could give.
Keys that an answer may lack are optional (with a default the answer never shows), and
their routes answer with ``response_model_exclude_unset``: a key the service left out
stays out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import Problem
from patron.kit.pagination import Pagination

Warnings = list[Problem]


def _warnings() -> Any:
    return Field(description="Warnings beside the success (same shape as errors).")


def _errors() -> Any:
    return Field(description="Always empty on a success.")


class RecordDeleted(BaseModel):
    """A note or an image was deleted."""

    id: int = Field(description="The id of the note, or of the customer whose image it was.")
    deleted: bool = Field(description="Always true.")
    warnings: Warnings = _warnings()


# --- notes ------------------------------------------------------------------------------


class CustomerNote(BaseModel):
    """A note about a customer."""

    id: int = Field(description="The note's id.")
    userId: int = Field(description="The customer the note is about.")
    description: str = Field(description="The note's text.")
    addedBy: str = Field(description="The user or API key that wrote it.")
    addedOn: str | None = Field(description="When it was written (ISO 8601).")
    updatedOn: str | None = Field(description="When it was last changed (ISO 8601).")


class NoteAnswer(BaseModel):
    """The note written or changed."""

    note: CustomerNote
    code: int = Field(description="1000: success.")
    message: str = Field(description="What was done, in words.")
    warnings: Warnings = _warnings()


class NoteList(BaseModel):
    """A page of a customer's notes, newest first."""

    pagination: Pagination
    data: list[CustomerNote]
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()


# --- preferences ------------------------------------------------------------------------


class PreferenceValue(BaseModel):
    """A preference value of a customer."""

    key: str = Field(description="The preference key, as the org defined it.")
    type: str = Field(description="The key's type: string, integer, number, boolean, date, enum.")
    value: Any = Field(description="The value, as its type (a number, a boolean or text).")
    updatedBy: str = Field(description="The user or API key that set it.")
    updatedOn: str | None = Field(description="When it was set (ISO 8601).")


class CustomerPreferences(BaseModel):
    """A customer's preference values, by key."""

    userId: int = Field(description="The customer.")
    preferences: list[PreferenceValue]
    warnings: Warnings = _warnings()


class PreferencesSet(CustomerPreferences):
    """A customer's preference values after the change."""

    code: int = Field(description="1000: success.")
    message: str = Field(description="What was done, in words.")


class PreferenceKey(BaseModel):
    """A preference key of the org."""

    key: str = Field(description="The key's name.")
    type: str = Field(description="string, integer, number, boolean, date or enum.")
    values: list[str] = Field(description="The values an enum key takes (else empty).")
    description: str = Field(description="What the key means.")


class PreferenceKeyList(BaseModel):
    """The org's preference keys, by name."""

    data: list[PreferenceKey]
    warnings: Warnings = _warnings()


class PreferenceKeyDefined(PreferenceKey):
    """The preference key defined."""

    warnings: Warnings = _warnings()


# --- tickets ----------------------------------------------------------------------------


class CustomerTicket(BaseModel):
    """A complaint or feedback ticket of a customer."""

    id: int = Field(description="The ticket's id.")
    userId: int = Field(description="The customer the ticket is about.")
    type: str = Field(description="COMPLAINT or FEEDBACK.")
    subject: str = Field(description="The ticket's subject.")
    description: str = Field(description="The ticket's text.")
    status: str = Field(description="OPEN, IN_PROGRESS or CLOSED.")
    priority: str = Field(description="The ticket's priority.")
    assignee: str | None = Field(description="The user of the org who follows it.")
    storeCode: str | None = Field(description="The store it came from.")
    addedBy: str = Field(description="The user or API key that opened it.")
    addedOn: str | None = Field(description="When it was opened (ISO 8601).")
    updatedBy: str = Field(description="The user or API key that changed it last.")
    updatedOn: str | None = Field(description="When it was changed last (ISO 8601).")
    closedOn: str | None = Field(description="When it was closed (ISO 8601), if it is.")


class TicketAnswer(BaseModel):
    """One ticket of a customer."""

    ticket: CustomerTicket
    code: int = Field(description="1300: success.")
    warnings: Warnings = _warnings()


class TicketAdded(TicketAnswer):
    """The ticket opened."""

    message: str = Field(description="What was done, in words.")


class TicketList(BaseModel):
    """A page of a customer's tickets, newest first."""

    pagination: Pagination
    data: list[CustomerTicket]
    code: int = Field(description="1300: success.")
    message: str = Field(description="What was done, in words.")
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()


# --- image ------------------------------------------------------------------------------

_IMAGE_FILE: dict[str, Any] = {
    "acl": "PRIVATE",
    "fileHandle": "a014949a-0822-48b3-90ad-73908174147d",
    "lastModified": "2021-11-24 08:59:40",
    "latestVersion": 2,
    "name": "50583/343014824/0",
    "namespace": "customerImage",
    "version": 2,
    "contentType": "image/png",
    "size": 48213,
    "width": 640,
    "height": 480,
}


class ImageFile(BaseModel):
    """A customer's stored image."""

    acl: str = Field(description="Always PRIVATE: the image is served to the org only.")
    fileHandle: str = Field(description="The image's handle; its ETag too.")
    lastModified: str = Field(description="When it was set (UTC, 'YYYY-MM-DD HH:MM:SS').")
    latestVersion: int = Field(description="The latest version of the customer's image.")
    name: str = Field(description="'<org>/<customer>/0'.")
    namespace: str = Field(description="Always customerImage.")
    version: int = Field(description="This version of the customer's image.")
    contentType: str = Field(description="image/jpeg, image/png or image/webp.")
    size: int = Field(description="Its size in bytes, as stored.")
    width: int = Field(description="Its width in pixels.")
    height: int = Field(description="Its height in pixels.")


class ImageUploaded(BaseModel):
    """The outcome of an upload."""

    code: int = Field(description="200.")
    file: ImageFile
    message: str = Field(description="What was done, in words.")
    status: str = Field(description="'true' (text, as the seed writes it).")


class ImageUploadAnswer(BaseModel):
    """The image set."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": [
                        {
                            "code": 200,
                            "file": _IMAGE_FILE,
                            "message": "Successfully uploaded file",
                            "status": "true",
                        }
                    ],
                    "warnings": [],
                    "errors": [],
                }
            ]
        }
    )

    data: list[ImageUploaded]
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()


# --- referrals --------------------------------------------------------------------------


class Referrer(BaseModel):
    """The customer who invited, as the request named it."""

    id: int = Field(description="The customer's id.")
    mobile: str = Field(description="The mobile the request gave (else empty).")
    email: str = Field(description="The email the request gave (else empty).")
    externalId: str = Field(description="The external id the request gave (else empty).")


class InvitedFriend(BaseModel):
    """A friend invited."""

    name: str = Field(description="The friend's name.")
    identifier: str = Field(description="The friend's mobile or email, normalized.")
    invitedOn: str | None = Field(description="When ('YYYY-MM-DD HH:MM:SS', UTC).")


class InvitedGroup(BaseModel):
    """The friends invited through one channel."""

    type: str = Field(description="MOBILE or EMAIL.")
    referral: list[InvitedFriend]


class ReferralInvitations(BaseModel):
    """The invitations of one referrer in one campaign, as stored."""

    customer: Referrer
    campaignToken: str = Field(description="The campaign's token.")
    referrals: list[InvitedGroup]
    warnings: Warnings = _warnings()


_INVITATIONS: dict[str, Any] = {
    "customer": {
        "id": 420007388,
        "mobile": "918867710031",
        "email": "sample.email10031@gmail.com",
        "externalId": "",
    },
    "campaignToken": "CWRME",
    "referrals": [
        {
            "type": "MOBILE",
            "referral": [
                {
                    "name": "some random name",
                    "identifier": "918867710032",
                    "invitedOn": "2021-12-16 13:15:45",
                }
            ],
        }
    ],
}


class ReferralsInvited(BaseModel):
    """The invitations recorded."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customerReferrals": [{**_INVITATIONS, "warnings": []}],
                    "code": 1000,
                    "message": "Referrals are invited successfully",
                    "warnings": [],
                    "errors": [],
                }
            ]
        }
    )

    customerReferrals: list[ReferralInvitations]
    code: int = Field(description="1000: success.")
    message: str = Field(description="What was done, in words.")
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()


class ReferralIdentifier(BaseModel):
    """An identifier of the referrer."""

    type: str = Field(description="mobile, email, externalId, ...")
    value: str = Field(description="Its value.")


class ReferrerProfile(BaseModel):
    """A profile of the referrer."""

    firstName: str
    lastName: str
    identifiers: list[ReferralIdentifier] = Field(description="The profile's identifiers.")
    source: str = Field(description="The profile's source (INSTORE, ...).")
    accountId: str = Field(description="The source's account (else empty).")
    userId: int = Field(description="The customer's id.")
    identifiersAll: list[ReferralIdentifier] = Field(description="All the customer holds.")


class ReferrerCustomer(BaseModel):
    """The referrer and its profiles."""

    id: int = Field(description="The customer's id.")
    profiles: list[ReferrerProfile]


class Till(BaseModel):
    """The till an invitation came through."""

    code: str
    name: str


class ReferralInvitee(BaseModel):
    """A friend the customer invited."""

    type: str = Field(description="MOBILE or EMAIL.")
    identifier: str = Field(description="The friend's mobile or email.")
    name: str = Field(description="The friend's name (else empty).")
    invitedOn: str | None = Field(description="When ('YYYY-MM-DD HH:MM:SS', UTC).")
    till: Till | None = Field(description="The till it came through, if any.")


class Referee(BaseModel):
    """A friend who joined. A deleted one has only eventType, userId and addedOn."""

    eventType: str = Field(description="REGISTRATION.")
    userId: int | None = Field(description="The customer the friend became (null: erased).")
    addedOn: str | None = Field(description="When the friend joined.")
    firstName: str | None = None
    lastName: str | None = None
    mobile: str | None = Field(None, description="The friend's mobile, if any.")
    email: str | None = Field(None, description="The friend's email, if any.")
    externalId: str | None = Field(None, description="The friend's external id, if any.")


class ReferralStatistics(BaseModel):
    """How many were invited and how many joined."""

    invited: int
    joined: int


class CampaignReferrals(BaseModel):
    """The customer's referrals in one campaign."""

    customer: ReferrerCustomer
    campaignToken: str = Field(description="The campaign's token.")
    referralCode: str = Field(description="The customer's code in the campaign (else empty).")
    invitees: list[ReferralInvitee]
    referee: list[Referee] = Field(description="The invitees who joined.")
    incentives: list[dict[str, Any]] = Field(description="Always empty: no incentives yet.")
    statistics: ReferralStatistics


class ReferralList(BaseModel):
    """A page of the campaigns in which the customer invited friends."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "pagination": {"limit": 10, "offset": 0, "total": 1},
                    "data": [
                        {
                            "customer": {
                                "id": 379061018,
                                "profiles": [
                                    {
                                        "firstName": "Tom",
                                        "lastName": "Sawyer",
                                        "identifiers": [
                                            {"type": "email", "value": "tom.sawyer@email.com"},
                                            {"type": "mobile", "value": "917700000000"},
                                        ],
                                        "source": "INSTORE",
                                        "accountId": "",
                                        "userId": 379061018,
                                        "identifiersAll": [
                                            {"type": "email", "value": "tom.sawyer@email.com"},
                                            {"type": "mobile", "value": "917700000000"},
                                        ],
                                    }
                                ],
                            },
                            "campaignToken": "CWRME",
                            "referralCode": "69olcqikpf",
                            "invitees": [
                                {
                                    "type": "EMAIL",
                                    "identifier": "917410011111@mail.com",
                                    "name": "",
                                    "invitedOn": "2020-05-21 11:52:33",
                                    "till": {"code": "cm.1", "name": "cm"},
                                },
                                {
                                    "type": "MOBILE",
                                    "identifier": "91781000000",
                                    "name": "Rati",
                                    "invitedOn": "2020-05-21 11:53:10",
                                    "till": None,
                                },
                            ],
                            "referee": [
                                {
                                    "eventType": "REGISTRATION",
                                    "userId": 379061022,
                                    "addedOn": "2020-05-21 11:59:20",
                                    "firstName": "Rati",
                                    "lastName": "Ranjan",
                                    "mobile": "91781000000",
                                    "email": "9178000000@mail.com",
                                    "externalId": "x91781000000",
                                }
                            ],
                            "incentives": [],
                            "statistics": {"invited": 2, "joined": 1},
                        }
                    ],
                    "warnings": [],
                    "errors": [],
                }
            ]
        }
    )

    pagination: Pagination
    data: list[CampaignReferrals]
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()


class ReferralCampaign(BaseModel):
    """A referral campaign of the org."""

    id: int
    token: str = Field(description="What invitations name the campaign by.")
    name: str
    active: bool = Field(description="False once the campaign ended.")
    createdOn: str | None = Field(description="When it was defined (ISO 8601).")


class ReferralCampaignList(BaseModel):
    """The org's referral campaigns."""

    data: list[ReferralCampaign]
    warnings: Warnings = _warnings()


class ReferralCampaignAnswer(ReferralCampaign):
    """The referral campaign defined or changed."""

    warnings: Warnings = _warnings()


# --- hierarchies ------------------------------------------------------------------------


class HierarchyRole(BaseModel):
    """A role of a hierarchy."""

    id: int
    code: str
    name: str
    parentRoleCode: str | None = Field(description="The role above it (null: the top).")


class Hierarchy(BaseModel):
    """A hierarchy of the org, and its roles."""

    id: int
    code: str
    name: str
    poolPoints: bool = Field(description="Whether its members' points are pooled.")
    skipLevelAllowed: bool = Field(description="Whether a member may skip a level of roles.")
    roles: list[HierarchyRole]
    createdOn: str | None = Field(description="When it was defined (ISO 8601).")


class HierarchyList(BaseModel):
    """The org's hierarchies."""

    data: list[Hierarchy]
    warnings: Warnings = _warnings()


class HierarchyAnswer(Hierarchy):
    """The hierarchy defined or changed."""

    warnings: Warnings = _warnings()


# --- bulk and groups --------------------------------------------------------------------


class FleetCompany(BaseModel):
    """The company a customer is placed in."""

    externalId: str
    companyId: int


class ChildCustomer(BaseModel):
    """A child customer placed under the entry's customer."""

    id: int


class AssociationDetails(BaseModel):
    """A customer's place in a hierarchy."""

    hierarchyCode: str = Field(description="The hierarchy's code.")
    hierarchyId: int
    roleCode: str = Field(description="The customer's role in it.")
    skipLevelAllowed: bool
    new: bool = Field(description="Whether the request placed the customer there.")
    childCustomer: bool = Field(description="Whether the customer is under a parent.")
    parentCustomerId: int | None = Field(None, description="The parent (with one only).")
    parentRoleId: int | None = Field(None, description="The parent's role (with one only).")
    fleetCompany: FleetCompany | None = Field(None, description="With a company only.")
    childCustomers: list[ChildCustomer] = Field(
        default_factory=list,
        description="The children placed under it (a request with children only).",
    )
    childRoleCode: str | None = Field(
        None, description="The children's role as given (a request with children only)."
    )


class BulkCustomer(BaseModel):
    """A customer's details, as ``GET /v2/customers/{id}`` answers them (``profiles``,
    ``loyaltyInfo``, ``extendedFields``, ...), with its place in a hierarchy. A child that
    failed has ``id`` null and its ``errors``; a group member erased meanwhile has
    ``deleted``."""

    model_config = ConfigDict(extra="allow")

    id: int | None = Field(None, description="The customer's id.")
    associationDetails: AssociationDetails | list[AssociationDetails] | None = Field(
        None,
        description="Its place; in a group's answer, a list when it holds several or none.",
    )
    childEntities: list[BulkCustomer] = Field(
        default_factory=list, description="An update with children: the children, as entities."
    )
    deleted: bool = Field(False, description="A group member erased meanwhile.")
    warnings: Warnings = Field(default_factory=list, description="Warnings about this customer.")
    errors: Warnings = Field(default_factory=list, description="Why this customer failed, if so.")


_BULK_PROFILE: dict[str, Any] = {
    "firstName": "Capillary",
    "lastName": "Customer",
    "fields": {"gender": "MALE"},
    "identifiers": [
        {"type": "mobile", "value": "917979015462"},
        {"type": "cuid", "value": "cuid_917979015462"},
    ],
    "commChannels": [],
    "source": "WECHAT",
    "userId": 409966467,
    "accountId": "WECHAT-CM",
    "conflictingProfileList": [],
    "autoUpdateTime": "2021-07-30T11:25:21+05:30",
    "identifiersAll": [
        {"type": "mobile", "value": "917979015462"},
        {"type": "cuid", "value": "cuid_917979015462"},
    ],
}
_BULK_CHILD: dict[str, Any] = {
    "id": 409966468,
    "profiles": [{**_BULK_PROFILE, "userId": 409966468}],
    "loyaltyInfo": {"loyaltyType": "loyalty"},
    "extendedFields": {"city": "city_6878387", "gender": "Male"},
    "associationDetails": {
        "hierarchyCode": "code-association2",
        "hierarchyId": 21,
        "roleCode": "FC",
        "fleetCompany": {"externalId": "ex917471949194", "companyId": 71},
        "parentCustomerId": 409966467,
        "parentRoleId": 83,
        "skipLevelAllowed": False,
        "new": True,
        "childCustomer": True,
    },
    "warnings": [],
}


class BulkEntryAnswer(BaseModel):
    """The outcome of one entry of ``POST /v2/customers/bulk``: its customer, or the error
    that refused it (then ``entity`` is null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entity": {
                        "id": 409966467,
                        "profiles": [_BULK_PROFILE],
                        "loyaltyInfo": {"loyaltyType": "loyalty"},
                        "extendedFields": {"gender": "Male", "city": "city_6878387"},
                        "associationDetails": {
                            "hierarchyCode": "code-association2",
                            "hierarchyId": 21,
                            "roleCode": "FA",
                            "skipLevelAllowed": False,
                            "new": True,
                            "childCustomer": False,
                            "fleetCompany": {"externalId": "ex917471949194", "companyId": 71},
                            "childCustomers": [{"id": 409966468}],
                            "childRoleCode": "FC",
                        },
                        "warnings": [],
                    },
                    "childEntities": [_BULK_CHILD],
                    "childCount": 1,
                    "childFailureCount": 0,
                    "childSuccessCount": 1,
                }
            ]
        }
    )

    entity: BulkCustomer | None = Field(description="The customer (null: the entry failed).")
    childEntities: list[BulkCustomer] = Field(description="The entry's children, in order.")
    childCount: int = Field(description="How many children the entry gave.")
    childFailureCount: int = Field(description="How many of them failed.")
    childSuccessCount: int = Field(description="How many of them were placed.")
    errors: Warnings = Field(
        default_factory=list, description="Why the entry failed (a failure only)."
    )
    warnings: Warnings = Field(default_factory=list, description="A failure's warnings.")


class GroupHierarchy(BaseModel):
    """A hierarchy the group's members are placed in."""

    hierarchyCode: str
    poolPoints: bool


class PooledBalance(BaseModel):
    """The group's points in one loyalty program."""

    programId: int
    programName: str
    points: float = Field(description="The members' points, summed.")
    members: int = Field(description="How many members hold points in the program.")


class GroupLoyalty(BaseModel):
    """The group's loyalty: its members' points summed per program."""

    hierarchies: list[GroupHierarchy]
    poolPoints: bool = Field(description="Whether one of the hierarchies pools points.")
    members: int = Field(description="How many customers the group has.")
    pooledBalances: list[PooledBalance]


class Group(BaseModel):
    """A page of a group's customers, and the group's loyalty."""

    customers: list[BulkCustomer]
    count: int = Field(description="How many customers the group has.")
    groupLoyalty: GroupLoyalty
    errors: Warnings = _errors()
    warnings: Warnings = _warnings()


class GroupAnswer(BaseModel):
    """A group: the customers under a parent customer, or of a company."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "entity": {
                        "customers": [{k: v for k, v in _BULK_CHILD.items() if k != "warnings"}],
                        "count": 1,
                        "groupLoyalty": {
                            "hierarchies": [
                                {"hierarchyCode": "code-association2", "poolPoints": True}
                            ],
                            "poolPoints": True,
                            "members": 2,
                            "pooledBalances": [
                                {
                                    "programId": 1,
                                    "programName": "Default",
                                    "points": 250.0,
                                    "members": 2,
                                }
                            ],
                        },
                        "errors": [],
                        "warnings": [],
                    },
                    "pagination": {"limit": 10, "offset": 0, "total": 1},
                    "warnings": [],
                    "errors": [],
                    "success": True,
                }
            ]
        }
    )

    entity: Group
    pagination: Pagination
    warnings: Warnings = _warnings()
    errors: Warnings = _errors()
    success: bool = Field(description="Always true.")
