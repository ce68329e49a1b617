"""The typed settings of one org (stored as JSON on the org row)."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from patron.codes import generic, orgs
from patron.identity.rules import DEFAULT_MOBILE_REGEX, MobileRules
from patron.kit.errors import InvalidInput

SYSTEM_STATUSES = (
    "Active",
    "Suspended",
    "Deleted",
    "Fraud Suspected",
    "Fraud Confirmed",
    "Internal",
)
FRAUD_STATUSES = ("INTERNAL", "MARKED", "CONFIRMED", "RECONFIRMED", "NOT_FRAUD")
#: Fraud statuses that freeze a customer against changes (code 618).
BLOCKING_FRAUD_STATUSES = frozenset({"MARKED", "CONFIRMED", "RECONFIRMED"})
#: The console's upload limits the user guide gives (an admin may raise them).
CONSOLE_MAX_FILE_BYTES = 10 * 1024 * 1024
CONSOLE_MAX_ROWS = 50_000


class OrgSettings(BaseModel):
    """Rules an org chooses for its customers."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_country_code: str = Field(default="", pattern=r"^[0-9]{0,4}$")
    """Country calling code prefixed to national mobile numbers (e.g. ``91``)."""
    mobile_national_length: int = Field(default=0, ge=0, le=15)
    """Length of a national mobile number without country code (0: unknown)."""
    append_country_code: bool = False
    """Prefix ``base_country_code`` to mobiles of exactly ``mobile_national_length`` digits."""
    mobile_regex: str = DEFAULT_MOBILE_REGEX
    """The regex a normalized mobile number must match."""
    primary_identifier: Literal["mobile", "email", "externalId"] = "mobile"
    """Identifier a loyalty registration must carry."""
    allow_email_only_loyalty: bool = True
    """When false, a loyalty registration with an email needs a mobile or external id too."""
    strict_names: bool = False
    """Restrict names to letters and spaces."""
    viewers_may_export: bool = False
    """Let viewers export the profile list (editors and admins always may)."""
    registration_max_past_days: int | None = Field(default=None, ge=0)
    """How far back a registration date may lie (``None``: no limit)."""
    manual_required_fields: list[str] = Field(default_factory=list)
    """Fields a profile created by hand (the console) must carry: ``firstName``,
    ``lastName``, ``mobile``, ``email``, ``externalId`` or ``customField.<name>``."""
    time_zone: str = "UTC"
    """IANA time zone (``Asia/Kolkata``) in which the console shows times."""
    image_max_bytes: int = Field(default=1_000_000, ge=1_024, le=20_000_000)
    """The largest customer image accepted (``setImage``), in bytes; the API's request
    limit (``PATRON_MAX_REQUEST_BYTES``) bounds it too."""
    deleted_identifier_registration: Literal["refuse", "allow_with_warning"] = "refuse"
    """A registration through the API carrying an identifier of a deleted customer:
    ``refuse`` it (95301), or register the person again with warning 95302."""
    console_max_file_bytes: int = Field(default=CONSOLE_MAX_FILE_BYTES, ge=1024, le=2**40)
    """Largest file the console's upload takes, in bytes (10 MB); the server's own limit
    (``PATRON_IMPORT_MAX_BYTES``) still applies above it."""
    console_max_rows: int = Field(default=CONSOLE_MAX_ROWS, ge=1, le=100_000_000)
    """Most data rows in one file uploaded in the console (50,000); the server's own limit
    (``PATRON_IMPORT_MAX_ROWS``) still applies above it."""
    retro_enabled: bool = True
    """Members may claim earlier bills recorded without a customer (retro requests);
    the seed's ``CONF_RETRO_TRANSACTION_ENABLE``."""
    retro_max_age_days: int | None = Field(default=None, ge=0, le=36_500)
    """How many of the org's calendar days old a bill may be when claimed (``None``: no
    limit); the seed's ``CONF_CLIENT_RETRO_MAX_ALLOWED_AGE_DAYS``."""
    retro_delay_since_registration_hours: int = Field(default=0, ge=0, le=876_000)
    """The hours that must pass after a member's registration before it may claim a bill;
    the seed's ``CONF_CLIENT_RETRO_DELAY_SINCE_REGISTRATION_HOURS``."""

    @field_validator("mobile_regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in _time_zones():
            raise ValueError(f"not an IANA time zone name: {value!r} (e.g. UTC, Europe/Paris)")
        return value

    def mobile_rules(self) -> MobileRules:
        return MobileRules(
            base_country_code=self.base_country_code,
            national_length=self.mobile_national_length,
            append_country_code=self.append_country_code,
            regex=self.mobile_regex,
        )


@cache
def _time_zones() -> frozenset[str]:
    # Read once: listing the zone database walks its files.
    return frozenset(zoneinfo.available_timezones())


def apply_changes(current: OrgSettings, changes: dict[str, Any]) -> OrgSettings:
    """A copy of ``current`` with ``changes`` applied and validated as a whole."""
    unknown = sorted(set(changes) - set(OrgSettings.model_fields))
    if unknown:
        known = ", ".join(OrgSettings.model_fields)
        raise InvalidInput(
            generic.INVALID_INPUT, f"unknown org setting {', '.join(unknown)}; known: {known}"
        )
    try:
        return OrgSettings.model_validate(current.model_dump() | changes)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(generic.INVALID_INPUT, f"invalid org settings: {problems}") from exc


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from the CLI, the value converted to the setting's type."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidInput(generic.INVALID_INPUT, f"expected key=value, got {text!r}")
    field = OrgSettings.model_fields.get(key)
    if field is None:
        return key, raw  # apply_changes names the unknown key
    if field.annotation in (int | None,) and raw.strip().lower() in ("", "none", "null"):
        return key, None
    if field.annotation == list[str]:
        return key, [item.strip() for item in raw.split(",") if item.strip()]
    return key, raw.strip()


#: The standard fields ``manual_required_fields`` may name; custom fields are
#: ``customField.<name>``.
MANUAL_STANDARD_FIELDS = ("firstName", "lastName", "mobile", "email", "externalId")
CUSTOM_FIELD_PREFIX = "customField."


def required_fields(names: list[str], custom_fields: list[str]) -> list[str]:
    """``names`` in their canonical spelling, each once; 95220 for a field that does not
    exist (``custom_fields``: the org's custom field names)."""
    standard = {name.lower(): name for name in MANUAL_STANDARD_FIELDS}
    custom = {name.lower(): CUSTOM_FIELD_PREFIX + name for name in custom_fields}
    checked: dict[str, None] = {}
    for raw in names:
        text = raw.strip()
        lowered = text.lower()
        if lowered.startswith(CUSTOM_FIELD_PREFIX.lower()):
            found = custom.get(lowered[len(CUSTOM_FIELD_PREFIX) :].strip())
        else:
            found = standard.get(lowered) or custom.get(lowered)
        if found is None:
            raise InvalidInput(
                orgs.UNKNOWN_REQUIRED_FIELD,
                f"manualRequiredFields: unknown field {raw!r}; use one of "
                f"{', '.join(MANUAL_STANDARD_FIELDS)} or customField.<name> of a custom field "
                "of this org",
            )
        checked.setdefault(found, None)
    return list(checked)
