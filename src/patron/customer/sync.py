"""Applying the org's synchronization rule to a new profile: is it an existing person?

The groups of the rule (:mod:`patron.orgs.sync_rule`) are tried in the order the
admin wrote them. A group applies when the new profile carries a value for every
one of its keys; it matches the live customers holding all those values (an
identifier of the type, a profile with those names, letter case ignored, the
custom field values). The first group that matches decides. A group that matches
more than one customer cannot tell which person it is: the registration is
refused (8053) rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from patron.codes import customer
from patron.customer import sync_repository
from patron.kit.errors import Conflict
from patron.orgs.sync_rule import CUSTOM_FIELD_PREFIX, SyncRule


@dataclass(frozen=True)
class Candidate:
    """The values of a new profile the rule's keys compare (normalized, as stored)."""

    identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    first_name: str = ""
    last_name: str = ""
    custom_fields: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        identifiers: Iterable[tuple[str, str]],
        names: Iterable[tuple[str, str]],
        custom_fields: Mapping[str, str],
    ) -> Candidate:
        """From (type, value) identifiers, the (first, last) names of each profile (the
        first profile with a name counts) and the custom field values."""
        by_type: dict[str, list[str]] = {}
        for kind, value in identifiers:
            by_type.setdefault(kind, []).append(value)
        first, last = next(((f, n) for f, n in names if f or n), ("", ""))
        return cls(
            identifiers={kind: tuple(values) for kind, values in by_type.items()},
            first_name=first,
            last_name=last,
            custom_fields=dict(custom_fields),
        )


@dataclass(frozen=True)
class Match:
    """The customer the rule found, and the group of keys that found it."""

    customer_id: int
    group: tuple[str, ...]


def find_match(conn: Connection, org_id: int, rule: SyncRule, candidate: Candidate) -> Match | None:
    """The existing customer ``candidate`` is, by ``rule``; ``None`` when nobody is."""
    for group in rule.groups:
        wanted = _lookup(group, candidate)
        if wanted is None:
            continue
        found = sync_repository.customers_holding(
            conn,
            org_id,
            identifiers_of=wanted.identifiers,
            names=(wanted.first_name, wanted.last_name),
            custom_fields=wanted.custom_fields,
        )
        if len(found) > 1:
            raise Conflict(
                customer.IDENTIFIERS_OF_DIFFERENT_CUSTOMERS,
                f"The profile matches several customers by the synchronization rule "
                f"({' + '.join(group)}): customers {', '.join(map(str, found))} and maybe more. "
                "Unable to decide which one to update",
            )
        if found:
            return Match(found[0], group)
    return None


@dataclass
class _Lookup:
    identifiers: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    first_name: str | None = None
    last_name: str | None = None
    custom_fields: list[tuple[str, str]] = field(default_factory=list)


def _lookup(group: tuple[str, ...], candidate: Candidate) -> _Lookup | None:
    """The look-up of one group, or ``None`` when the profile lacks a value it needs."""
    wanted = _Lookup()
    for key in group:
        if key == "firstName":
            if not candidate.first_name:
                return None
            wanted.first_name = candidate.first_name
        elif key == "lastName":
            if not candidate.last_name:
                return None
            wanted.last_name = candidate.last_name
        elif key.startswith(CUSTOM_FIELD_PREFIX):
            name = key.removeprefix(CUSTOM_FIELD_PREFIX)
            value = candidate.custom_fields.get(name)
            if not value:
                return None
            wanted.custom_fields.append((name, value))
        else:
            values = candidate.identifiers.get(key)
            if not values:
                return None
            wanted.identifiers.append((key, values))
    return wanted
