"""``/v2/loyalty/programs``: the org's loyalty programs (viewers read, admins define)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from patron.api.deps import Db, TransactionRoute, admin, viewer
from patron.api.params import PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.kit.errors import NotFound, PatronError
from patron.loyalty import programs
from patron.loyalty.answers import LoyaltyProgram, ProgramList
from patron.loyalty.schemas import ProgramIn, program_input, render_program

router = APIRouter(prefix="/v2/loyalty/programs", tags=["loyalty"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Admin = Annotated[Actor, Depends(admin)]


def _unknown_program(number: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"no loyalty program {number} in this org")


ProgramId = Annotated[PathId, unknown_as(_unknown_program)]


@router.get("", summary="The org's loyalty programs, by programId", response_model=ProgramList)
def list_programs(actor: Viewer, conn: Db) -> dict[str, Any]:
    """The org's loyalty programs with their slabs and partner programs."""
    found = programs.list_programs(conn, actor.org_id)
    return {"data": [render_program(p) for p in found], "warnings": []}


@router.post(
    "",
    status_code=201,
    summary="Create a loyalty program (admin)",
    response_model=LoyaltyProgram,
)
def create_program(body: ProgramIn, actor: Admin, conn: Db) -> dict[str, Any]:
    """Create a program with its slabs; the org's first program is its default one."""
    program = programs.add_program(conn, actor, program_input(body))
    return render_program(program)


@router.get("/{program_id:id}", summary="One loyalty program", response_model=LoyaltyProgram)
def get_program(program_id: ProgramId, actor: Viewer, conn: Db) -> dict[str, Any]:
    """A program with its slabs and partner programs."""
    program = programs.get_program(conn, actor.org_id, program_id)
    return render_program(program)


@router.put(
    "/{program_id:id}", summary="Change a loyalty program (admin)", response_model=LoyaltyProgram
)
def change_program(
    program_id: ProgramId, body: ProgramIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    """Change the fields given; ``slabs`` replace the program's slabs by serial number."""
    program = programs.change_program(conn, actor, program_id, program_input(body))
    return render_program(program)
