"""``/v2/customers/bulk`` (register or update many customers, with their groups; read a
group) and the org's hierarchies at ``/v2/org/hierarchies``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from patron.api import deps
from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute
from patron.api.params import Paging
from patron.auth.actor import Actor
from patron.customer import bulk, hierarchy
from patron.customer.record_answers import (
    BulkCustomer,
    BulkEntryAnswer,
    GroupAnswer,
    HierarchyAnswer,
    HierarchyList,
)
from patron.customer.schemas import RegisterIn, Text

router = APIRouter(prefix="/v2/customers", tags=["bulk and groups"], route_class=TransactionRoute)
org_router = APIRouter(prefix="/v2/org", tags=["bulk and groups"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(deps.viewer)]
Editor = Annotated[Actor, Depends(deps.editor)]
Admin = Annotated[Actor, Depends(deps.admin)]


class CompanyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    externalId: Text | None = None


class AssociationIn(BaseModel):
    """An entry's ``associationDetails``."""

    model_config = ConfigDict(extra="ignore")

    hierarchyCode: Text | None = None
    roleCode: Text | None = None
    childRoleCode: Text | None = None
    parentCustomer: RegisterIn | None = None
    childCustomers: list[RegisterIn] = Field(default_factory=list)
    fleetCompany: CompanyIn | None = None

    def association(self) -> bulk.Association:
        return bulk.Association(
            hierarchy_code=self.hierarchyCode,
            role_code=self.roleCode,
            child_role_code=self.childRoleCode,
            parent=self.parentCustomer,
            children=list(self.childCustomers),
            company_external_id=self.fleetCompany.externalId if self.fleetCompany else None,
        )


def _sample_customer(mobile: str) -> dict[str, Any]:
    return {
        "profiles": [
            {
                "firstName": "Capillary",
                "lastName": "Customer",
                "identifiers": [
                    {"type": "mobile", "value": mobile},
                    {"type": "cuid", "value": f"cuid_{mobile}"},
                ],
                "commChannels": [
                    {"type": "email", "value": f"{mobile}@mail.com", "primary": True},
                ],
                "fields": {"gender": "MALE", "city": "city0"},
                "source": "WECHAT",
                "accountId": "WECHAT-CM",
            }
        ],
        "extendedFields": {"gender": "Male", "city": "city_6878387"},
    }


class BulkCustomerIn(RegisterIn):
    """One element of the body of ``POST`` / ``PUT /v2/customers/bulk``."""

    # The seed's "Associate Child with Parent" entry (with one child, and no card).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_sample_customer("917979000000"),
                    "loyaltyInfo": {"loyaltyType": "loyalty"},
                    "associationDetails": {
                        "hierarchyCode": "code-association2",
                        "roleCode": "FA",
                        "childCustomers": [_sample_customer("919553000011")],
                        "fleetCompany": {"externalId": "ex917471949194"},
                        "childRoleCode": "FC",
                    },
                }
            ]
        }
    )

    associationDetails: AssociationIn | None = None

    def entry(self) -> bulk.Entry:
        given = self.associationDetails
        return bulk.Entry(customer=self, association=given.association() if given else None)


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = None
    name: str | None = None
    parentRoleCode: str | None = None


class HierarchyBody(BaseModel):
    """Body of ``POST /v2/org/hierarchies`` and ``PUT .../{code}``."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = None
    name: str | None = None
    poolPoints: bool | None = None
    skipLevelAllowed: bool | None = None
    roles: list[RoleBody] = Field(default_factory=list)


# Each entry's answer holds only the keys of its outcome (a customer, or its errors).
@router.post("/bulk", response_model=list[BulkEntryAnswer], response_model_exclude_unset=True)
def register_many(
    body: Annotated[list[BulkCustomerIn], Body()], conn: Db, actor: Editor
) -> list[dict[str, Any]]:
    """Register many customers, each alone; with associationDetails, place them in a group."""
    return bulk.register_many(conn, actor, [item.entry() for item in body])


@router.put("/bulk", response_model=list[BulkCustomer], response_model_exclude_unset=True)
def update_many(
    body: Annotated[list[BulkCustomerIn], Body()],
    conn: Db,
    actor: Editor,
    source: str | None = None,
    account_id: Annotated[str | None, Query(alias="accountId")] = None,
) -> list[dict[str, Any]]:
    """Update many existing customers (found by their identifiers) and their groups."""
    return bulk.update_many(conn, actor, [item.entry() for item in body], source, account_id)


# 404: no customer holds the parent's identifier, or no company has the external id.
@router.get(
    "/bulk", response_model=GroupAnswer, response_model_exclude_unset=True, responses=errors(404)
)
def read_group(
    conn: Db,
    actor: Viewer,
    page: Paging,
    source: str | None = None,
    account_id: Annotated[str | None, Query(alias="accountId")] = None,
    entity_type: Annotated[str | None, Query(alias="associationEntityType")] = None,
    identifier_type: Annotated[str | None, Query(alias="associationEntityIdentifierType")] = None,
    identifier_value: Annotated[str | None, Query(alias="associationEntityIdentifierValue")] = None,
    sort_by: Annotated[str | None, Query(alias="sortBy")] = None,
    sort_order: Annotated[str | None, Query(alias="sortOrder")] = None,
) -> dict[str, Any]:
    """A group: the customers under a parent customer or of a company, and their points."""
    return bulk.group(
        conn,
        actor.org_id,
        entity_type=entity_type,
        identifier_type_name=identifier_type,
        identifier_value=identifier_value,
        page=page,
        source=source,
        account_id=account_id,
        sort_by=sort_by,
        sort_order=sort_order,
    )


@org_router.get("/hierarchies", response_model=HierarchyList)
def list_hierarchies(conn: Db, actor: Viewer) -> dict[str, Any]:
    """The org's hierarchies and their roles."""
    return {"data": hierarchy.list_hierarchies(conn, actor.org_id), "warnings": []}


@org_router.post("/hierarchies", status_code=201, response_model=HierarchyAnswer)
def define_hierarchy(body: HierarchyBody, conn: Db, actor: Admin) -> dict[str, Any]:
    """Define a hierarchy: its roles, whether levels may be skipped, whether points pool."""
    made = hierarchy.define(
        conn,
        actor,
        code=body.code,
        name=body.name,
        roles=[hierarchy.RoleIn(r.code, r.name, r.parentRoleCode) for r in body.roles],
        pool_points=bool(body.poolPoints),
        skip_level_allowed=bool(body.skipLevelAllowed),
    )
    return {**made, "warnings": []}


@org_router.put("/hierarchies/{code}", response_model=HierarchyAnswer)
def change_hierarchy(code: str, body: HierarchyBody, conn: Db, actor: Admin) -> dict[str, Any]:
    """Rename a hierarchy, or change whether points pool or levels may be skipped."""
    changed = hierarchy.change(
        conn,
        actor,
        code,
        name=body.name,
        pool_points=body.poolPoints,
        skip_level_allowed=body.skipLevelAllowed,
        new_code=body.code,
        roles=[hierarchy.RoleIn(r.code, r.name, r.parentRoleCode) for r in body.roles],
    )
    return {**changed, "warnings": []}
