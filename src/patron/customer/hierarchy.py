"""Groups of customers: hierarchies the org defines, and each customer's place in one.

An admin defines a hierarchy (``/v2/org/hierarchies``): a code, its roles (each with the
role above it, e.g. ``FA`` fleet admin at the top and ``FC`` fleet customer under it),
whether a level may be skipped (a member's parent holds a role further up) and whether
the members' points pool (their balances read as the group's). A customer holds at most
one place per hierarchy: its role, its parent customer and its company (a fleet company,
known by its external id and created when first named).

Codes (patron's own):

    95341  InvalidInput  an invalid hierarchy definition
    95342  Conflict      the hierarchy's code exists already
    95343  InvalidInput  an unknown hierarchy code
    95344  InvalidInput  an unknown role, or a role that does not fit its parent's
    95345  InvalidInput  the association would make a customer its own ancestor
    95346  Conflict      the customer has another place in the hierarchy (PUT changes it)
    95347  NotFound      an unknown company
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer, generic
from patron.customer import care_repository
from patron.customer import group_repository as repository
from patron.kit.clock import iso
from patron.kit.errors import Conflict, InvalidInput, NotFound

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: The deepest hierarchy walked (a loop is refused long before).
_MAX_DEPTH = 50


@dataclass(frozen=True)
class RoleIn:
    code: str | None
    name: str | None = None
    parent_code: str | None = None


# --- definitions ------------------------------------------------------------------------


def _code(raw: str | None, what: str) -> str:
    text = (raw or "").strip()
    if not _CODE.fullmatch(text):
        raise InvalidInput(
            customer.HIERARCHY_INVALID, f"{what} must be 1 to 64 letters, digits, '_', '.' or '-'"
        )
    return text


def define(
    conn: Connection,
    actor: Actor,
    *,
    code: str | None,
    name: str | None,
    roles: list[RoleIn],
    pool_points: bool = False,
    skip_level_allowed: bool = False,
) -> dict[str, Any]:
    """Define a hierarchy of the org with its roles (admin)."""
    hierarchy_code = _code(code, "code")
    if repository.hierarchy_by_code(conn, actor.org_id, hierarchy_code) is not None:
        raise Conflict(
            customer.HIERARCHY_CODE_TAKEN,
            f"a hierarchy with code {hierarchy_code!r} exists already",
        )
    if not roles:
        raise InvalidInput(customer.HIERARCHY_INVALID, "a hierarchy needs at least one role")
    checked = [
        (_code(r.code, "a role's code"), (r.name or "").strip(), r.parent_code) for r in roles
    ]
    codes = [c for c, _, _ in checked]
    if len({c.lower() for c in codes}) != len(codes):
        raise InvalidInput(customer.HIERARCHY_INVALID, "role codes must be distinct")
    by_lower = {c.lower(): c for c in codes}
    parents: dict[str, str | None] = {}
    for role_code, _, parent in checked:
        written = (parent or "").strip()
        if written and written.lower() not in by_lower:
            raise InvalidInput(
                customer.HIERARCHY_INVALID, f"role {role_code}: no role {written!r} above it"
            )
        parents[role_code] = by_lower[written.lower()] if written else None
    for role_code in codes:
        seen = {role_code}
        upper = parents[role_code]
        while upper is not None:
            if upper in seen:
                raise InvalidInput(
                    customer.HIERARCHY_INVALID, f"the roles above {role_code} make a loop"
                )
            seen.add(upper)
            upper = parents[upper]
    if len((name or "").strip()) > 200 or any(len(n) > 200 for _, n, _ in checked):
        raise InvalidInput(customer.HIERARCHY_INVALID, "names may be 200 characters long")
    hierarchy_id = repository.insert_hierarchy(
        conn,
        {
            "org_id": actor.org_id,
            "code": hierarchy_code,
            "name": (name or "").strip(),
            "pool_points": pool_points,
            "skip_level_allowed": skip_level_allowed,
            "created_by": actor.name,
        },
    )
    ids: dict[str, int] = {}
    pending = list(checked)
    while pending:  # a role's parent is written before it
        for item in list(pending):
            role_code, role_name, _ = item
            above_code = parents[role_code]
            if above_code is None or above_code in ids:
                ids[role_code] = repository.insert_role(
                    conn,
                    {
                        "org_id": actor.org_id,
                        "hierarchy_id": hierarchy_id,
                        "code": role_code,
                        "name": role_name,
                        "parent_role_id": None if above_code is None else ids[above_code],
                    },
                )
                pending.remove(item)
    audit(
        conn,
        actor,
        "org.hierarchy.define",
        "hierarchy",
        hierarchy_id,
        {"code": hierarchy_code, "roles": codes, "poolPoints": pool_points},
    )
    return render_hierarchy(conn, actor.org_id, hierarchy_id)


def change(
    conn: Connection,
    actor: Actor,
    code: str,
    *,
    name: str | None = None,
    pool_points: bool | None = None,
    skip_level_allowed: bool | None = None,
    new_code: str | None = None,
    roles: list[RoleIn] | None = None,
) -> dict[str, Any]:
    """Rename a hierarchy, or change whether points pool or levels may be skipped (admin).
    Its code and roles stay: members are placed by them."""
    if roles or new_code is not None:
        raise InvalidInput(customer.HIERARCHY_INVALID, "a hierarchy's code and roles stay")
    found = hierarchy(conn, actor.org_id, code)
    changes: dict[str, Any] = {}
    if name is not None:
        if len(name.strip()) > 200:
            raise InvalidInput(customer.HIERARCHY_INVALID, "names may be 200 characters long")
        changes["name"] = name.strip()
    if pool_points is not None:
        changes["pool_points"] = pool_points
    if skip_level_allowed is not None:
        changes["skip_level_allowed"] = skip_level_allowed
    if changes:
        repository.update_hierarchy(conn, actor.org_id, int(found["id"]), changes)
        audit(
            conn,
            actor,
            "org.hierarchy.change",
            "hierarchy",
            found["id"],
            {"changed": sorted(changes)},
        )
    return render_hierarchy(conn, actor.org_id, int(found["id"]))


def hierarchy(conn: Connection, org_id: int, code: str | None) -> RowMapping:
    """The hierarchy called ``code`` (95343)."""
    found = repository.hierarchy_by_code(conn, org_id, (code or "").strip())
    if found is None:
        raise InvalidInput(customer.HIERARCHY_UNKNOWN, f"no hierarchy with code {code!r}")
    return found


def render_hierarchy(conn: Connection, org_id: int, hierarchy_id: int) -> dict[str, Any]:
    found = repository.get_hierarchy(conn, org_id, hierarchy_id)
    assert found is not None
    roles = repository.roles_of(conn, org_id, hierarchy_id)
    code_of = {int(r["id"]): r["code"] for r in roles}
    return {
        "id": hierarchy_id,
        "code": found["code"],
        "name": found["name"],
        "poolPoints": bool(found["pool_points"]),
        "skipLevelAllowed": bool(found["skip_level_allowed"]),
        "roles": [
            {
                "id": int(r["id"]),
                "code": r["code"],
                "name": r["name"],
                "parentRoleCode": code_of.get(int(r["parent_role_id"] or 0)),
            }
            for r in roles
        ],
        "createdOn": iso(found["created_at"]),
    }


def list_hierarchies(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """The org's hierarchies with their roles."""
    return [
        render_hierarchy(conn, org_id, int(row["id"]))
        for row in repository.list_hierarchies(conn, org_id)
    ]


# --- places -----------------------------------------------------------------------------


def role(conn: Connection, org_id: int, found: RowMapping, code: str | None) -> RowMapping:
    """The role of hierarchy ``found`` called ``code`` (95344)."""
    for row in repository.roles_of(conn, org_id, int(found["id"])):
        if row["code"].lower() == (code or "").strip().lower():
            return row
    raise InvalidInput(
        customer.HIERARCHY_ROLE_MISFIT, f"hierarchy {found['code']} has no role {code!r}"
    )


def child_role(conn: Connection, org_id: int, found: RowMapping, above: RowMapping) -> RowMapping:
    """The one role right under ``above``, for children given without ``childRoleCode``."""
    under = [
        r
        for r in repository.roles_of(conn, org_id, int(found["id"]))
        if r["parent_role_id"] == above["id"]
    ]
    if len(under) != 1:
        raise InvalidInput(
            customer.HIERARCHY_ROLE_MISFIT,
            f"role {above['code']} has {len(under)} roles under it: give childRoleCode",
        )
    return under[0]


def company(conn: Connection, org_id: int, external_id: str | None, *, create: bool) -> int:
    """The id of the company with ``external_id``; made when ``create`` (else 95347)."""
    text = (external_id or "").strip()
    if not text or len(text) > 100:
        raise InvalidInput(
            generic.INVALID_INPUT, "fleetCompany.externalId must hold 1 to 100 characters"
        )
    found = repository.company_by_external_id(conn, org_id, text)
    if found is not None:
        return int(found["id"])
    if not create:
        raise NotFound(customer.HIERARCHY_COMPANY_UNKNOWN, f"no company with external id {text!r}")
    return repository.insert_company(conn, org_id, text)


def _ancestors(conn: Connection, org_id: int, customer_id: int, hierarchy_id: int) -> list[int]:
    found: list[int] = []
    current: int | None = customer_id
    while current is not None and len(found) < _MAX_DEPTH:
        current = repository.parent_of(conn, org_id, current, hierarchy_id)
        if current is not None:
            found.append(current)
    return found


def place(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    found: RowMapping,
    given_role: RowMapping,
    *,
    parent_id: int | None,
    company_id: int | None,
    replace: bool,
) -> dict[str, Any]:
    """Give ``customer_id`` its place in hierarchy ``found``; a parent without a place gets
    the role above. ``replace``: an existing, different place changes (else 95346).
    Answers the ``associationDetails`` to show."""
    org_id = actor.org_id
    hierarchy_id = int(found["id"])
    roles = {int(r["id"]): r for r in repository.roles_of(conn, org_id, hierarchy_id)}
    parent_role_id = None
    if parent_id is not None:
        if parent_id == customer_id or customer_id in _ancestors(
            conn, org_id, parent_id, hierarchy_id
        ):
            raise InvalidInput(
                customer.HIERARCHY_LOOP, f"customer {customer_id} cannot be its own ancestor"
            )
        above = given_role["parent_role_id"]
        if above is None:
            raise InvalidInput(
                customer.HIERARCHY_ROLE_MISFIT,
                f"role {given_role['code']} is the top of its hierarchy: no parent",
            )
        family = care_repository.merge_family(conn, org_id, parent_id)
        parent_place = repository.membership(conn, org_id, [parent_id, *family], hierarchy_id)
        if parent_place is None:
            repository.insert_membership(
                conn,
                {
                    "org_id": org_id,
                    "customer_id": parent_id,
                    "hierarchy_id": hierarchy_id,
                    "role_id": above,
                    "company_id": company_id,
                    "updated_by": actor.name,
                },
            )
            parent_role_id = int(above)
        else:
            parent_role_id = int(parent_place["role_id"])
            allowed = {int(above)}
            if found["skip_level_allowed"]:
                upper = roles[int(above)]["parent_role_id"]
                while upper is not None:
                    allowed.add(int(upper))
                    upper = roles[int(upper)]["parent_role_id"]
            if parent_role_id not in allowed:
                raise InvalidInput(
                    customer.HIERARCHY_ROLE_MISFIT,
                    f"the parent holds role {roles[parent_role_id]['code']}; role "
                    f"{given_role['code']} needs a parent of role {roles[int(above)]['code']}",
                )
    current = repository.membership(conn, org_id, [customer_id], hierarchy_id)
    values = {
        "role_id": int(given_role["id"]),
        "parent_id": parent_id,
        "company_id": company_id,
        "updated_by": actor.name,
    }
    new = current is None
    if current is None:
        repository.insert_membership(
            conn,
            {"org_id": org_id, "customer_id": customer_id, "hierarchy_id": hierarchy_id, **values},
        )
    elif any(current[k] != v for k, v in values.items() if k != "updated_by"):
        if not replace:
            raise Conflict(
                customer.HIERARCHY_PLACED_ELSEWHERE,
                f"customer {customer_id} has another place in hierarchy {found['code']}; "
                "PUT /v2/customers/bulk changes it",
            )
        if company_id is None:
            values["company_id"] = current["company_id"]
        repository.update_membership(conn, org_id, int(current["id"]), values)
    audit(
        conn,
        actor,
        "customer.group.place",
        "customer",
        customer_id,
        {
            "hierarchy": found["code"],
            "role": given_role["code"],
            "parentId": parent_id,
            "companyId": values["company_id"],
        },
    )
    return association_details(
        conn, org_id, customer_id, found, new=new, parent_role_id=parent_role_id
    )


def association_details(
    conn: Connection,
    org_id: int,
    customer_id: int,
    found: RowMapping,
    *,
    new: bool = False,
    parent_role_id: int | None = None,
) -> dict[str, Any]:
    """The customer's place in hierarchy ``found``, as the seed's ``associationDetails``."""
    membership = repository.membership(conn, org_id, [customer_id], int(found["id"]))
    if membership is None:
        return {}
    roles = {int(r["id"]): r for r in repository.roles_of(conn, org_id, int(found["id"]))}
    own = roles[int(membership["role_id"])]
    shown: dict[str, Any] = {
        "hierarchyCode": found["code"],
        "hierarchyId": int(found["id"]),
        "roleCode": own["code"],
        "skipLevelAllowed": bool(found["skip_level_allowed"]),
        "new": new,
        "childCustomer": membership["parent_id"] is not None,
    }
    if membership["parent_id"] is not None:
        shown["parentCustomerId"] = int(membership["parent_id"])
        shown["parentRoleId"] = parent_role_id or own["parent_role_id"]
    if membership["company_id"] is not None:
        firm = repository.get_company(conn, org_id, int(membership["company_id"]))
        if firm is not None:
            shown["fleetCompany"] = {
                "externalId": firm["external_id"],
                "companyId": int(firm["id"]),
            }
    return shown
