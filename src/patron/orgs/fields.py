"""Custom and extended field definitions, and the check of one value against one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from patron.identity.rules import parse_date

FIELD_KINDS = ("custom", "extended")
FIELD_SCOPES = ("customer", "card")
DATA_TYPES = ("string", "integer", "number", "boolean", "date", "enum")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


@dataclass(frozen=True)
class FieldDefinition:
    """One declared field of an org."""

    kind: str
    scope: str
    name: str
    data_type: str
    enum_values: tuple[str, ...] = ()
    max_length: int | None = None


def canonical_value(definition: FieldDefinition, value: Any, max_length: int) -> str | None:
    """The stored text of ``value`` for ``definition``, or ``None`` when it does not fit."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    limit = min(definition.max_length or max_length, max_length)
    # NUL ends a C string: PostgreSQL cannot store it and no field value needs it.
    if len(text) > limit or "\x00" in text:
        return None
    if definition.data_type == "string":
        return text
    if definition.data_type == "integer":
        return _integer(value, text)
    if definition.data_type == "number":
        return _number(value, text)
    if definition.data_type == "boolean":
        lowered = text.lower()
        return "true" if lowered in _TRUE else "false" if lowered in _FALSE else None
    if definition.data_type == "date":
        parsed = parse_date(text)
        return parsed.isoformat() if parsed else None
    if definition.data_type == "enum":
        matches = [v for v in definition.enum_values if v.lower() == text.lower()]
        return matches[0] if matches else None
    return None


def _integer(value: Any, text: str) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    try:
        return str(int(text))
    except ValueError:
        return None


def _number(value: Any, text: str) -> str | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return text if number == number and abs(number) != float("inf") else None
