"""Identifier types, sources and the rule that normalizes each identifier type."""

from __future__ import annotations

from enum import StrEnum

from patron.identity.rules import (
    Checked,
    MobileRules,
    normalize_email,
    normalize_external_id,
    normalize_mobile,
    normalize_plain_identifier,
)


class Source(StrEnum):
    INSTORE = "INSTORE"
    FACEBOOK = "FACEBOOK"
    WEB_ENGAGE = "WEB_ENGAGE"
    WECHAT = "WECHAT"
    MARTJACK = "MARTJACK"
    TMALL = "TMALL"
    TAOBAO = "TAOBAO"
    JD = "JD"
    ECOMMERCE = "ECOMMERCE"
    WEBSITE = "WEBSITE"
    LINE = "LINE"
    MOBILE_APP = "MOBILE_APP"


#: Sources with several accounts: a profile there needs an ``accountId`` (8045).
MULTI_ACCOUNT_SOURCES = frozenset(
    {Source.WECHAT, Source.FACEBOOK, Source.WEB_ENGAGE, Source.MOBILE_APP, Source.LINE}
)

#: Identifier types a customer can hold (``cardExternalId`` and ``id`` are look-up keys only).
IDENTIFIER_TYPES = (
    "mobile",
    "email",
    "externalId",
    "cardnumber",
    "cuid",
    "unionId",
    "wechat",
    "martjackId",
    "fbId",
    "tmall_uname",
    "ali_uname",
    "jd_uname",
    "vip_uname",
    "line",
    "mobilePush",
)

#: Spellings clients use for the same identifier type.
_TYPE_ALIASES = {t.lower(): t for t in IDENTIFIER_TYPES} | {"card": "cardnumber"}

#: Communication channel types accepted in ``commChannels``.
CHANNEL_TYPES = ("mobile", "email", "wechat", "ios", "android", "line", "mobilePush", "whatsapp")
_CHANNEL_ALIASES = {t.lower(): t for t in CHANNEL_TYPES}


def identifier_type(name: str) -> str | None:
    """The canonical spelling of an identifier type, or ``None`` if unknown."""
    return _TYPE_ALIASES.get(name.strip().lower())


def channel_type(name: str) -> str | None:
    """The canonical spelling of a communication channel type, or ``None``."""
    return _CHANNEL_ALIASES.get(name.strip().lower())


def parse_source(name: str | None) -> Source | None:
    """A source from its name (case-insensitive); ``None`` if unknown."""
    if name is None:
        return None
    try:
        return Source(name.strip().upper())
    except ValueError:
        return None


def normalize_identifier(kind: str, raw: str, mobile_rules: MobileRules) -> Checked:
    """Apply the rule of identifier type ``kind`` (canonical spelling) to ``raw``."""
    if kind == "mobile":
        return normalize_mobile(raw, mobile_rules)
    if kind == "email":
        return normalize_email(raw)
    if kind == "externalId":
        return normalize_external_id(raw)
    return normalize_plain_identifier(raw)
