"""The error tree. Every error patron raises carries a stable ``code``.

    PatronError(code, message)
    ├── InvalidInput        400  the request itself is malformed or a value is invalid
    ├── Unauthenticated     401  no or wrong credentials
    ├── Forbidden           403  the credentials lack the role, or a rule forbids the change
    ├── NotFound            404  the thing does not exist in the caller's org
    └── Conflict            409  the change collides with stored data

Domain errors know nothing of HTTP; ``patron.api.errors`` maps these classes to
status codes and ``patron.cli.errors`` to exit codes, each in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    """A code and message; used for warnings returned beside a success."""

    code: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"status": False, "code": self.code, "message": self.message}


@dataclass
class PatronError(Exception):
    """Root of every error patron raises on purpose."""

    code: int
    message: str
    warnings: list[Notice] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(PatronError):
    """The request is malformed or carries an invalid value."""


class Unauthenticated(PatronError):
    """Credentials are missing or wrong."""


class Forbidden(PatronError):
    """The caller's role does not allow the operation, or a rule forbids it."""


class NotFound(PatronError):
    """The referenced thing does not exist in the caller's org."""


class Conflict(PatronError):
    """The change collides with stored data."""


ERROR_CLASSES: tuple[type[PatronError], ...] = (
    InvalidInput,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
)
