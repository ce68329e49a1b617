"""Who is calling: the org, the role and a name for attribution."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Role(IntEnum):
    """Roles in increasing order of power; each includes the ones below it."""

    viewer = 1
    editor = 2
    admin = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().lower()]
        except KeyError:
            raise ValueError(f"role must be one of {', '.join(r.name for r in cls)}") from None


@dataclass(frozen=True)
class Actor:
    """An authenticated caller (user, API key or the local CLI operator)."""

    org_id: int
    role: Role
    name: str
    kind: str = "user"  # user | key | cli | import
    #: The credential that authenticated the caller: ``user:<user id>`` or ``key:<API key
    #: id>``; empty for the CLI and import jobs, which present none.
    credential: str = ""

    def can(self, role: Role) -> bool:
        return self.role >= role
