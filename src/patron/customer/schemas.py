"""Request bodies of the customer endpoints (shapes of the v2 Customer API).

Models are lenient the way integrations expect: unknown keys are ignored, and
numbers or booleans sent as strings (``"verified": "true"``, a mobile as a JSON
number) are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return value


Text = Annotated[str, BeforeValidator(_to_text)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class IdentifierIn(_Lenient):
    type: Text
    value: Text
    seriesId: int | None = None
    seriesCode: Text | None = None
    statusLabel: Text | None = None
    cardExternalId: Text | None = None
    subscribed: bool | None = None
    extendedFields: dict[str, Any] | None = None
    customFields: dict[str, Any] | None = None


class ChannelIn(_Lenient):
    type: Text
    value: Text
    primary: bool = False
    verified: bool = False
    meta: dict[str, Any] = Field(default_factory=dict)


class ProfileIn(_Lenient):
    firstName: Text | None = None
    lastName: Text | None = None
    source: Text | None = None
    accountId: Text | None = None
    identifiers: list[IdentifierIn] = Field(default_factory=list)
    commChannels: list[ChannelIn] = Field(default_factory=list)
    fields: dict[str, Any] = Field(default_factory=dict)


class LoyaltyInfoIn(_Lenient):
    loyaltyType: Text | None = None


#: The seed's sample registration (its trailing and missing commas mended).
REGISTER_SAMPLE: dict[str, Any] = {
    "loyaltyInfo": {"loyaltyType": "loyalty"},
    "associatedWith": "bukl.till",
    "profiles": [
        {
            "firstName": "Tom",
            "lastName": "Sawyer",
            "identifiers": [
                {"type": "mobile", "value": "919010000022"},
                {"type": "cuid", "value": "cuid_91901000002"},
                {"type": "unionId", "value": "unionId_91901000002"},
            ],
            "commChannels": [
                {
                    "type": "mobile",
                    "value": "91901000001",
                    "primary": True,
                    "verified": True,
                    "meta": {"lastViewedDate": "", "residence": True, "office": False},
                }
            ],
            "source": "INSTORE",
            "fields": {"employee": "true", "dateofbirth": "22-10-2000"},
        }
    ],
    "extendedFields": {"gender": "Male", "city": "Bangalore"},
}

#: The seed's sample update (by id or by identifier).
UPDATE_SAMPLE: dict[str, Any] = {
    "profiles": [
        {
            "firstName": "Tom",
            "lastName": "Sawyer",
            "fields": {"gender": "Male", "city": "Bangalore"},
            "commChannels": [
                {
                    "type": "email",
                    "value": "tom.sawyer@example.com",
                    "primary": "true",
                    "verified": "false",
                    "meta": {"residence": True},
                }
            ],
            "source": "INSTORE",
        }
    ],
    "loyaltyInfo": {"loyaltyType": "loyalty"},
    "extendedFields": {"gender": "MALE", "city": "Bangalore"},
}


class RegisterIn(_Lenient):
    """Body of ``POST /v2/customers``."""

    model_config = ConfigDict(json_schema_extra={"examples": [REGISTER_SAMPLE]})

    loyaltyInfo: LoyaltyInfoIn | None = None
    loyaltyType: Text | None = None  # also accepted at the top level
    associatedWith: Text | None = None
    createDate: Text | None = None
    profiles: list[ProfileIn] = Field(min_length=1)
    extendedFields: dict[str, Any] = Field(default_factory=dict)
    loyaltyProgramEnrollments: list[dict[str, Any]] = Field(default_factory=list)

    def loyalty_type(self) -> str | None:
        if self.loyaltyInfo and self.loyaltyInfo.loyaltyType:
            return self.loyaltyInfo.loyaltyType
        return self.loyaltyType


class UpdateIn(_Lenient):
    """Body of ``PUT /v2/customers/{id}`` and ``PUT /v2/customers/lookup``."""

    model_config = ConfigDict(json_schema_extra={"examples": [UPDATE_SAMPLE]})

    loyaltyInfo: LoyaltyInfoIn | None = None
    loyaltyType: Text | None = None
    profiles: list[ProfileIn] = Field(default_factory=list)
    extendedFields: dict[str, Any] = Field(default_factory=dict)
    loyaltyProgramEnrollments: list[dict[str, Any]] = Field(default_factory=list)

    def loyalty_type(self) -> str | None:
        if self.loyaltyInfo and self.loyaltyInfo.loyaltyType:
            return self.loyaltyInfo.loyaltyType
        return self.loyaltyType


class ChangeIdentifiersIn(_Lenient):
    """Body of ``POST /v2/customers/{id}/changeIdentifier``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "add": [{"type": "wechat", "value": "ray11"}],
                    "remove": [{"type": "email", "value": "tom.sawyer@example.com"}],
                },
                {
                    "add": [
                        {
                            "value": "TTM001110000000001ZS",
                            "type": "cardnumber",
                            "seriesId": 19,
                            "statusLabel": "ACTIVE",
                        }
                    ]
                },
            ]
        }
    )

    add: list[IdentifierIn] = Field(default_factory=list)
    remove: list[IdentifierIn] = Field(default_factory=list)
