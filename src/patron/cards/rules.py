"""The rules of card series and card numbers, without I/O.

One definition, used by the API path (these functions) and by the import path
(the polars expressions of :mod:`patron.cards.columns`, which a test compares
with these functions).

A series fixes the shape of its card numbers: they start with its prefix, end
with its suffix and, when the series has a length, have exactly that many
characters (prefix and suffix included). A series that generates its cards
fills the middle with random digits, so it needs a length that leaves at least
one digit between prefix and suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from patron.identity.rules import CONTROL_CHARACTERS

CARD_TYPES = ("PHYSICAL", "DIGITAL")
#: The card system statuses; their names are always valid status labels.
SYSTEM_STATUSES = ("NOT_ISSUED", "ACTIVE", "INACTIVE", "DELETED", "EXPIRED")
#: The status a card gets when it is issued without a label.
ISSUED_STATUS = "ACTIVE"
#: The status a generated card starts with.
GENERATED_STATUS = "NOT_ISSUED"

SERIES_CODE_MAX_LENGTH = 50
SERIES_CODE_PATTERN = r"^[A-Za-z0-9]+$"
DESCRIPTION_MAX_LENGTH = 500
AFFIX_MAX_LENGTH = 50
#: No whitespace and no control characters inside a prefix or suffix.
AFFIX_FORBIDDEN = r"[\s\x00-\x1f\x7f]"
CARD_NUMBER_MAX_LENGTH = 64
CARD_EXTERNAL_ID_MAX_LENGTH = 100
LABEL_MAX_LENGTH = 100
#: The longest validity a series may give (100 years).
EXPIRY_DAYS_MAX = 36_500
TRUE_WORDS = ("true", "yes", "y", "1")
FALSE_WORDS = ("false", "no", "n", "0")

_CODE = re.compile(SERIES_CODE_PATTERN)
_AFFIX_FORBIDDEN = re.compile(AFFIX_FORBIDDEN)
_CONTROL = re.compile(CONTROL_CHARACTERS)
_LABEL_SEPARATORS = re.compile(r"[\s_-]+")


@dataclass(frozen=True)
class CardRequest:
    """What a ``cardnumber`` identifier of a request says about its card."""

    series_id: int | None = None
    series_code: str | None = None
    status_label: str | None = None
    external_id: str | None = None  # normalized (``normalize_external_id``)
    extended_fields: dict[str, Any] | None = None
    custom_fields: dict[str, Any] | None = None

    @property
    def names_series(self) -> bool:
        return self.series_id is not None or bool(self.series_code)

    @property
    def series_ref(self) -> str:
        return str(self.series_id) if self.series_id is not None else str(self.series_code)


def series_code_problem(code: str) -> str | None:
    """Why ``code`` (trimmed) cannot be a series code, or ``None``."""
    if not code:
        return "the series code is empty"
    if len(code) > SERIES_CODE_MAX_LENGTH:
        return f"a series code has at most {SERIES_CODE_MAX_LENGTH} characters"
    if not _CODE.match(code):
        return f"'{code}' is not alphanumeric: a series code has only letters A-Z and digits"
    return None


def card_type(raw: str | None) -> str | None:
    """``PHYSICAL`` or ``DIGITAL`` from any letter case, else ``None``."""
    text = (raw or "").strip().upper()
    return text if text in CARD_TYPES else None


def affix_problem(affix: str, what: str) -> str | None:
    """Why ``affix`` cannot be a prefix / suffix (``what``), or ``None``."""
    if len(affix) > AFFIX_MAX_LENGTH:
        return f"a card {what} has at most {AFFIX_MAX_LENGTH} characters"
    if _AFFIX_FORBIDDEN.search(affix):
        return f"a card {what} may not contain spaces or control characters"
    return None


def shape_problem(prefix: str, suffix: str, length: int | None, generates: bool) -> str | None:
    """Why a series with this prefix, suffix and length cannot exist, or ``None``."""
    fixed = len(prefix) + len(suffix)
    if length is not None and not 1 <= length <= CARD_NUMBER_MAX_LENGTH:
        return f"the card length must be between 1 and {CARD_NUMBER_MAX_LENGTH}"
    if length is not None and fixed > length:
        return f"prefix and suffix have {fixed} characters, more than the card length {length}"
    if generates and length is None:
        return "a series that generates its cards needs a card length"
    if generates and length is not None and fixed >= length:
        return (
            f"the card length {length} leaves no digit between prefix and suffix "
            "for generated card numbers"
        )
    return None


def misfit(number: str, prefix: str, suffix: str, length: int | None) -> str | None:
    """How ``number`` breaks its series' shape (every broken part), or ``None`` if it fits."""
    problems = []
    if not number.startswith(prefix):
        problems.append(f"does not start with the prefix '{prefix}'")
    if not number.endswith(suffix):
        problems.append(f"does not end with the suffix '{suffix}'")
    if length is not None and len(number) != length:
        problems.append(f"has {len(number)} characters, not {length}")
    elif len(number) < len(prefix) + len(suffix):
        problems.append("is shorter than prefix and suffix together")
    return "; ".join(problems) or None


def card_number_problem(number: str) -> str | None:
    """Why a (trimmed) card number cannot be stored, or ``None``."""
    if len(number) > CARD_NUMBER_MAX_LENGTH:
        return f"a card number has at most {CARD_NUMBER_MAX_LENGTH} characters"
    if _CONTROL.search(number):
        return "a card number may not contain control characters"
    return None


def label_key(label: str) -> str:
    """The form two status labels are compared in: case, spaces, ``_`` and ``-`` set aside."""
    return _LABEL_SEPARATORS.sub("_", label.strip().lower())


def system_status(raw: str) -> str | None:
    """The card system status ``raw`` names (``not issued``, ``Not-Issued``...), or ``None``."""
    key = label_key(raw)
    return next((status for status in SYSTEM_STATUSES if label_key(status) == key), None)


def parse_flag(raw: str) -> bool | None:
    """``true`` / ``false`` (also yes / no, y / n, 1 / 0) in any case; ``None`` otherwise."""
    text = raw.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    return None
