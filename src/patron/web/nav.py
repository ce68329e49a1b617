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
    export: bool = False
    """An export area: a viewer sees it only when the org lets viewers export."""


NAVIGATION = (
    NavItem("/profiles", "Identified Profiles", Role.viewer),
    NavItem("/imports", "Upload reports", Role.viewer),
    NavItem("/exports", "Exports", Role.viewer, export=True),
    NavItem("/audit", "Audit log", Role.admin),
    NavItem("/users", "Users", Role.admin),
    NavItem("/keys", "API keys", Role.admin),
    NavItem("/settings", "Settings", Role.admin),
)


def visible(actor: Actor, *, viewers_may_export: bool = False) -> list[NavItem]:
    """The entries ``actor`` may use: a control a role may not use is not rendered."""
    may_export = viewers_may_export or actor.can(Role.editor)
    return [item for item in NAVIGATION if actor.can(item.role) and (may_export or not item.export)]
