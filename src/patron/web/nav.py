"""The console's navigation: one entry per area, shown to the roles that may use it."""

from __future__ import annotations

from dataclasses import dataclass

from patron.auth.actor import Actor, Role


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation bar and the least role that sees it."""

    path: str
    label: str
    role: Role


NAVIGATION = (
    NavItem("/profiles", "Identified Profiles", Role.viewer),
    NavItem("/imports", "Upload reports", Role.viewer),
    NavItem("/audit", "Audit log", Role.admin),
    NavItem("/users", "Users", Role.admin),
    NavItem("/keys", "API keys", Role.admin),
    NavItem("/settings", "Settings", Role.admin),
)


def visible(actor: Actor) -> list[NavItem]:
    """The entries ``actor`` may use: a control a role may not use is not rendered."""
    return [item for item in NAVIGATION if actor.can(item.role)]
