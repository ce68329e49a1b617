"""The profile synchronization rule: which keys make a new profile an existing person.

A rule is one or more **groups** of keys. The groups are OR-ed, the keys of a
group AND-ed: ``[["mobile"], ["email"], ["firstName", "lastName",
"customField.dateofbirth"]]`` reads "the same mobile, or the same email, or the
same first name, last name and date of birth". Keys are

- identifier types (``mobile``, ``email``, ``externalId``, ``cardnumber``...);
- the standard profile fields ``firstName`` and ``lastName``;
- the org's custom fields, as ``customField.<name>``.

An org that never set a rule has the default one: one group per identifier
type, i.e. any identifier the person holds (the registration's own behaviour).
Registration (:mod:`patron.customer.registration`) applies the rule; the
matching itself is :mod:`patron.customer.sync`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic, orgs
from patron.identity.types import IDENTIFIER_TYPES, identifier_type
from patron.kit.errors import Forbidden, InvalidInput
from patron.orgs import repository, settings_cache
from patron.orgs.fields import FieldDefinition
from patron.orgs.service import list_fields

STANDARD_KEYS = ("firstName", "lastName")
#: Other spellings of the standard keys, lower-cased.
_STANDARD_SPELLINGS = {"firstname": "firstName", "first_name": "firstName",
                       "lastname": "lastName", "last_name": "lastName"}  # fmt: skip
CUSTOM_FIELD_PREFIX = "customField."
#: Bounds that keep matching a registration a handful of index look-ups.
MAX_GROUPS = 20
MAX_KEYS_PER_GROUP = 10


@dataclass(frozen=True)
class SyncRule:
    """An org's rule; ``is_default`` when the org never set one."""

    groups: tuple[tuple[str, ...], ...]
    is_default: bool = False
    updated_by: str | None = None
    updated_at: datetime | None = None


DEFAULT_RULE = SyncRule(groups=tuple((kind,) for kind in IDENTIFIER_TYPES), is_default=True)


def get_rule(conn: Connection, org_id: int) -> SyncRule:
    """The org's rule (the default one when it set none); cached in a server
    (:mod:`patron.orgs.settings_cache`)."""
    return settings_cache.cached(conn, org_id, "sync_rule", _stored_rule)


def _stored_rule(conn: Connection, org_id: int) -> SyncRule:
    row = repository.get_sync_rule(conn, org_id)
    if row is None:
        return DEFAULT_RULE
    return SyncRule(
        groups=tuple(tuple(group) for group in row["groups"]),
        updated_by=row["updated_by"],
        updated_at=row["updated_at"],
    )


def set_rule(conn: Connection, actor: Actor, groups: Sequence[Sequence[str]] | None) -> SyncRule:
    """Store the org's rule (admin); ``None`` goes back to the default rule. Audited."""
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "changing the synchronization rule needs the admin role")
    before = _stored_rule(conn, actor.org_id)
    if groups is None:
        repository.delete_sync_rule(conn, actor.org_id)
    else:
        checked = parse_groups(groups, list_fields(conn, actor.org_id))
        repository.put_sync_rule(conn, actor.org_id, [list(g) for g in checked], actor.name)
    settings_cache.changed(conn, actor.org_id)
    after = _stored_rule(conn, actor.org_id)
    audit(
        conn,
        actor,
        "org.sync_rule.change",
        "org",
        actor.org_id,
        {"before": _described(before), "after": _described(after)},
    )
    return after


def rule_and_keys(conn: Connection, org_id: int) -> tuple[SyncRule, list[str]]:
    """The org's rule and the keys a rule of the org may use."""
    return get_rule(conn, org_id), available_keys(list_fields(conn, org_id))


def change_rule(
    conn: Connection, actor: Actor, groups: Sequence[Sequence[str]] | None, *, default: bool
) -> tuple[SyncRule, list[str]]:
    """Set the rule to ``groups``, or back to the default one; the rule and the keys."""
    if default and groups is not None:
        raise InvalidInput(generic.INVALID_INPUT, "give either groups or default, not both")
    rule = set_rule(conn, actor, None if default else (groups or []))
    return rule, available_keys(list_fields(conn, actor.org_id))


def _described(rule: SyncRule) -> Any:
    # Key names only: a rule holds no personal data.
    return "default" if rule.is_default else [list(group) for group in rule.groups]


def available_keys(definitions: Sequence[FieldDefinition]) -> list[str]:
    """Every key a rule of an org with these field definitions may use."""
    custom = [
        CUSTOM_FIELD_PREFIX + d.name
        for d in definitions
        if d.kind == "custom" and d.scope == "customer"
    ]
    return [*IDENTIFIER_TYPES, *STANDARD_KEYS, *custom]


def parse_groups(
    groups: Sequence[Sequence[str]], definitions: Sequence[FieldDefinition]
) -> tuple[tuple[str, ...], ...]:
    """Check a rule: at least one group, no empty group, known keys (canonical spelling).

    A key repeated in a group, or a group repeated, counts once.
    """
    if not groups:
        raise InvalidInput(
            orgs.SYNC_RULE_NO_GROUP, "a synchronization rule needs at least one group of keys"
        )
    if len(groups) > MAX_GROUPS:
        raise InvalidInput(
            orgs.SYNC_RULE_TOO_LARGE, f"a synchronization rule has at most {MAX_GROUPS} groups"
        )
    custom = {
        d.name.lower(): d.name for d in definitions if d.kind == "custom" and d.scope == "customer"
    }
    checked: dict[tuple[str, ...], None] = {}
    for index, group in enumerate(groups, start=1):
        if isinstance(group, str) or not group:
            raise InvalidInput(
                orgs.SYNC_RULE_EMPTY_GROUP,
                f"group {index} of the synchronization rule holds no key",
            )
        if len(group) > MAX_KEYS_PER_GROUP:
            raise InvalidInput(
                orgs.SYNC_RULE_TOO_LARGE, f"group {index} has more than {MAX_KEYS_PER_GROUP} keys"
            )
        keys = tuple(dict.fromkeys(_key(raw, index, custom) for raw in group))
        checked.setdefault(keys, None)
    return tuple(checked)


def _key(raw: str, index: int, custom: dict[str, str]) -> str:
    text = raw.strip() if isinstance(raw, str) else ""
    kind = identifier_type(text) if text else None
    if kind is not None:
        return kind
    standard = _STANDARD_SPELLINGS.get(text.lower())
    if standard is not None:
        return standard
    if text[: len(CUSTOM_FIELD_PREFIX)].lower() == CUSTOM_FIELD_PREFIX.lower():
        declared = custom.get(text[len(CUSTOM_FIELD_PREFIX) :].strip().lower())
        if declared is not None:
            return CUSTOM_FIELD_PREFIX + declared
        raise InvalidInput(
            orgs.SYNC_RULE_UNKNOWN_KEY,
            f"group {index}: {raw!r} names no custom field of this org "
            "(declare it first with POST /v2/org/fields)",
        )
    raise InvalidInput(
        orgs.SYNC_RULE_UNKNOWN_KEY,
        f"group {index}: unknown key {raw!r}; a key is an identifier type "
        f"({', '.join(IDENTIFIER_TYPES)}), firstName, lastName or customField.<name>",
    )
