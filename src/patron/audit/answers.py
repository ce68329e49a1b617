"""The answer of ``GET /v2/audit``, as ``/openapi.json`` declares it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from patron.api.contract import Problem
from patron.kit.pagination import Pagination


class AuditLogEntry(BaseModel):
    """Who did what to which object, when and why."""

    id: int = Field(description="The entry's id.")
    actor: str = Field(description="The user or API key that acted.")
    action: str = Field(description="What was done, e.g. customer.delete, export.download.")
    objectType: str = Field(description="The kind of object acted on.")
    objectId: str = Field(description="The object's id.")
    createdAt: str = Field(description="When (ISO 8601).")
    reason: str | None = Field(description="The reason given, where one is asked for.")
    details: dict[str, Any] = Field(description="More about the action (never personal data).")


class AuditLog(BaseModel):
    """A page of the org's audit log, newest first."""

    pagination: Pagination
    data: list[AuditLogEntry]
    warnings: list[Problem] = Field(description="Always empty.")
