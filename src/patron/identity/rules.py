"""Normalization and validation rules: pure functions, no I/O.

Each rule is defined once here and reused unchanged by the API (one record at a
time) and by the import engine. Patterns are module constants so a vectorized
engine can apply the same expressions column-wise.

Every function returns a :class:`Checked` value: the normalized value (or
``None`` when invalid), the auto-corrections applied, and the reason when invalid.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import regex

# --- mobile -----------------------------------------------------------------

#: Separators people and spreadsheets put inside phone numbers.
MOBILE_SEPARATORS = r"[\s\-.()\[\]/]"
#: A spreadsheet's float rendering of an integer: ``919900111111.0``.
SPREADSHEET_FLOAT = r"^(\d+)\.0+$"
#: A spreadsheet's scientific rendering: ``9.199E+11``.
SPREADSHEET_SCIENTIFIC = r"^\d+(\.\d+)?[eE]\+?\d+$"
#: A spreadsheet number with more digits than this is no mobile (and ``9E999999`` would
#: take Python minutes to write out): it is left as text.
SPREADSHEET_MAX_DIGITS = 30
#: The default org mobile rule: 8 to 15 digits, no leading zero.
DEFAULT_MOBILE_REGEX = r"^[1-9][0-9]{7,14}$"

# --- email ------------------------------------------------------------------

#: The HTML Living Standard's e-mail rule (what browsers accept in type=email),
#: applied after trimming and lower-casing, with a length limit of 254.
EMAIL_REGEX = (
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)
EMAIL_MAX_LENGTH = 254

# --- names ------------------------------------------------------------------

#: Letters of any script, combining marks, spaces, apostrophes, hyphens and dots.
NAME_REGEX = r"^[\p{L}\p{M}' .\-\u2019]*$"  # \u2019: the typographic apostrophe
#: The strict org option: letters, combining marks and spaces only.
STRICT_NAME_REGEX = r"^[\p{L}\p{M} ]*$"
NAME_MAX_LENGTH = 100

# --- other identifiers --------------------------------------------------------

#: Control characters never belong in an identifier.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f]"
IDENTIFIER_MAX_LENGTH = 255
EXTERNAL_ID_MAX_LENGTH = 100

_separators = re.compile(MOBILE_SEPARATORS)
_float = re.compile(SPREADSHEET_FLOAT)
_scientific = re.compile(SPREADSHEET_SCIENTIFIC)
_email = re.compile(EMAIL_REGEX)
_control = re.compile(CONTROL_CHARACTERS)
_name = regex.compile(NAME_REGEX)
_strict_name = regex.compile(STRICT_NAME_REGEX)


@dataclass(frozen=True)
class MobileRules:
    """The org settings that shape mobile normalization."""

    base_country_code: str = ""
    national_length: int = 0
    append_country_code: bool = False
    regex: str = DEFAULT_MOBILE_REGEX


@dataclass(frozen=True)
class Checked:
    """The outcome of one rule on one value."""

    value: str | None
    corrections: tuple[str, ...] = field(default=())
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _invalid(problem: str) -> Checked:
    return Checked(value=None, problem=problem)


def spreadsheet_digits(raw: str) -> str | None:
    """The digits of a number a spreadsheet rendered as a float, else ``None``.

    ``919900111111.0`` -> ``919900111111``; ``9.199E+11`` -> ``919900000000``
    only when the value is exactly an integer (an inexact float is not guessed).
    """
    match = _float.match(raw)
    if match:
        return match.group(1)
    if _scientific.match(raw):
        try:
            number = Decimal(raw)
        except InvalidOperation:
            return None
        if number == number.to_integral_value():
            if number != 0 and number.adjusted() >= SPREADSHEET_MAX_DIGITS:
                return None
            return str(int(number))
    return None


def normalize_mobile(raw: str, rules: MobileRules) -> Checked:
    """Mobile: digits only, international form, then the org's regex decides."""
    text = raw.strip()
    corrections: list[str] = []
    if text != raw:
        corrections.append("whitespace trimmed")
    # Full-width digits (common with Asian input methods) become ASCII digits.
    compatible = unicodedata.normalize("NFKC", text)
    if compatible != text:
        text = compatible
        corrections.append("full-width characters converted")
    digits = spreadsheet_digits(text)
    if digits is not None:
        text = digits
        corrections.append("spreadsheet number written as digits")
    text = _separators.sub("", text)
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not text.isdigit() or not text.isascii():
        return _invalid("a mobile number may contain only digits, spaces, + - . ( )")
    if rules.append_country_code and rules.base_country_code and rules.national_length:
        # A national number, optionally behind a single trunk 0, gets the country code.
        national = text[1:] if text.startswith("0") else text
        if len(national) == rules.national_length and national[0] != "0":
            text = rules.base_country_code + national
            corrections.append(f"country code {rules.base_country_code} added")
    if not re.fullmatch(rules.regex, text):
        return _invalid(f"mobile number {text} does not match the org's mobile rule")
    return Checked(value=text, corrections=tuple(corrections))


def normalize_email(raw: str) -> Checked:
    """Email: trimmed, lower-cased, then checked against :data:`EMAIL_REGEX`."""
    text = raw.strip()
    corrections: list[str] = []
    if text != raw:
        corrections.append("whitespace trimmed")
    lowered = text.lower()
    if lowered != text:
        corrections.append("email lower-cased")
    if len(lowered) > EMAIL_MAX_LENGTH or not _email.match(lowered):
        return _invalid(f"'{raw.strip()}' is not a valid email address")
    return Checked(value=lowered, corrections=tuple(corrections))


def normalize_plain_identifier(raw: str, *, max_length: int = IDENTIFIER_MAX_LENGTH) -> Checked:
    """External ids, card numbers and platform ids: trimmed, printable, bounded."""
    text = raw.strip()
    corrections = ("whitespace trimmed",) if text != raw else ()
    if not text:
        return _invalid("the value is empty")
    if len(text) > max_length:
        return _invalid(f"the value is longer than {max_length} characters")
    if _control.search(text):
        return _invalid("the value contains control characters")
    return Checked(value=text, corrections=corrections)


def normalize_external_id(raw: str) -> Checked:
    """External id: a plain identifier of at most 100 characters."""
    return normalize_plain_identifier(raw, max_length=EXTERNAL_ID_MAX_LENGTH)


def normalize_name(raw: str, *, strict: bool = False) -> Checked:
    """First / last name: trimmed; letters of any script and ``' - .`` (strict: letters)."""
    text = " ".join(raw.split())
    corrections = ("whitespace trimmed",) if text != raw else ()
    if len(text) > NAME_MAX_LENGTH:
        return _invalid(f"a name may be at most {NAME_MAX_LENGTH} characters")
    pattern = _strict_name if strict else _name
    if not pattern.match(text):
        allowed = "letters and spaces" if strict else "letters, spaces and ' - ."
        return _invalid(f"'{text}' contains characters other than {allowed}")
    return Checked(value=text, corrections=corrections)


def parse_datetime(raw: str) -> datetime | None:
    """An ISO 8601 date or date-time; naive values are taken as UTC. ``None`` if invalid."""
    text = raw.strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(raw: str, fmt: str | None = None) -> date | None:
    """A date in ``fmt`` (strptime) or ISO 8601 when no format is declared."""
    text = raw.strip()
    try:
        if fmt:
            return datetime.strptime(text, fmt).date()
        return date.fromisoformat(text)
    except ValueError:
        return None
