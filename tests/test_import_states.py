"""The import's state machine: the transition table, the one function that moves an import,
and the rule that nothing else changes an import's state."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection, Engine

from patron.imports import codes, service
from patron.imports import repository as repo
from patron.imports.states import (
    ALLOWED,
    INITIAL,
    RUNNABLE,
    SETTLED,
    TRANSITIONS,
    UNFINISHED,
    ImportState,
    TransitionNotAllowed,
    mermaid,
    move,
    sources,
    targets,
)
from patron.kit.db import transaction
from patron.kit.errors import Conflict
from tests.conftest import OrgHandle
from tests.importing import editor

SRC = Path(__file__).parent.parent / "src" / "patron"
DOCS = Path(__file__).parent.parent / "docs"
S = ImportState

#: Changes the machine must refuse (a few of the many it does not list).
FORBIDDEN = [
    (S.DRAFT, S.COMMITTED),
    (S.PREVIEWED, S.COMMITTED),
    (S.COMMITTED, S.QUEUED),
    (S.UNDONE, S.COMMITTED),
    (S.CANCELLED, S.QUEUED),
    (S.INVALID, S.QUEUED),
    (S.COMMITTING, S.CANCELLED),
    (S.FAILED, S.COMMITTED),
]


@contextmanager
def _rolled_back(engine: Engine) -> Iterator[Connection]:
    """A transaction undone at the end: the imports these tests make (some in states a
    worker runs, without a file) never reach the workers of other tests."""
    with engine.connect() as conn, conn.begin() as outer:
        yield conn
        outer.rollback()


def _new_import(conn: Connection, org: OrgHandle, state: ImportState) -> int:
    return repo.insert_import(
        conn,
        {
            "org_id": org.id,
            "profile": "loyalty-customers",
            "file_name": "states.csv",
            "file_format": "csv",
            "row_count": 0,
            "mapping": {},
            "options": {},
            "state": state,
            "counts": {},
        },
    )


def _state(conn: Connection, org: OrgHandle, import_id: int) -> str:
    found = repo.get_import(conn, org.id, import_id)
    assert found is not None
    return str(found["state"])


def test_every_allowed_transition_moves_the_import(engine: Engine, org: OrgHandle) -> None:
    with _rolled_back(engine) as conn:
        import_id = _new_import(conn, org, S.DRAFT)
        for transition in TRANSITIONS:
            # Put the import where the transition starts (by hand, as a test may).
            repo.update_import(conn, org.id, import_id, state=transition.source)
            assert move(conn, org.id, import_id, transition.source, transition.target, progress=7)
            assert _state(conn, org, import_id) == transition.target, transition
            found = repo.get_import(conn, org.id, import_id)
            assert found is not None
            assert found["progress"] == 7


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_a_transition_not_in_the_table_is_refused_and_changes_nothing(
    engine: Engine, org: OrgHandle, source: ImportState, target: ImportState
) -> None:
    with _rolled_back(engine) as conn:
        import_id = _new_import(conn, org, source)
        with pytest.raises(TransitionNotAllowed):
            move(conn, org.id, import_id, source, target, message="moved")
        # One forbidden pair among allowed ones refuses the whole move.
        with pytest.raises(TransitionNotAllowed):
            move(conn, org.id, import_id, (*sources("cancel"), source), target)
        found = repo.get_import(conn, org.id, import_id)
        assert found is not None
        assert (found["state"], found["message"]) == (source, "")


def test_a_move_from_a_state_the_import_left_writes_nothing(engine: Engine, org: OrgHandle) -> None:
    """The compare-and-set: another process moved the import first."""
    with _rolled_back(engine) as conn:
        import_id = _new_import(conn, org, S.CANCELLED)
        assert not move(conn, org.id, import_id, S.PREVIEWED, S.QUEUED, attempts=5)
        found = repo.get_import(conn, org.id, import_id)
        assert found is not None
        assert (found["state"], found["attempts"]) == (S.CANCELLED, 0)


def test_an_actor_asking_for_a_move_the_state_does_not_allow_gets_96201(
    engine: Engine, org: OrgHandle
) -> None:
    with transaction(engine) as conn:
        import_id = _new_import(conn, org, S.COMMITTED)
    for action in (service.confirm, service.cancel, service.replay):
        with pytest.raises(Conflict) as refused, transaction(engine) as conn:
            action(conn, editor(org), import_id)
        assert refused.value.code == codes.WRONG_STATE
        assert "it is committed" in refused.value.message
    with transaction(engine, write=False) as conn:
        assert _state(conn, org, import_id) == S.COMMITTED


def test_the_table_is_whole() -> None:
    assert set(ALLOWED) == set(ImportState)
    # Every state is reached (or is a first state) and every state but the ends moves on.
    reached = {t.target for t in TRANSITIONS} | set(INITIAL)
    assert reached == set(ImportState)
    assert {s for s, nexts in ALLOWED.items() if not nexts} == {S.CANCELLED, S.UNDONE}
    assert not any(t.source == t.target for t in TRANSITIONS)
    # Settled and runnable split the states; what is unfinished includes all that runs.
    assert set(SETTLED) | set(RUNNABLE) == set(ImportState)
    assert not set(SETTLED) & set(RUNNABLE)
    assert set(RUNNABLE) < set(UNFINISHED)
    assert sources("cancel") == (S.DRAFT, S.VALIDATING, S.PREVIEWED, S.QUEUED)
    assert targets("purge") == {S.DRAFT: S.CANCELLED, S.PREVIEWED: S.CANCELLED}
    with pytest.raises(TransitionNotAllowed):
        sources("no such action")


def test_the_stored_strings_stay_what_they_were() -> None:
    """The API answers and the rows hold these strings: renaming one is a breaking change."""
    assert [str(s) for s in ImportState] == [
        "draft",
        "validating",
        "previewed",
        "queued",
        "committing",
        "committed",
        "undo_queued",
        "undoing",
        "undone",
        "cancelled",
        "failed",
        "invalid",
    ]


def test_the_guide_shows_the_machine_as_it_is() -> None:
    text = (DOCS / "imports.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid()}```" in text, "docs/imports.md: paste states.mermaid()"


# --- nothing else changes an import's state ---------------------------------------------------

#: The modules that deal with imports' states (the others use words like "failed" for
#: exports, mails and notifications of their own).
STATE_READERS = [
    *sorted((SRC / "imports").rglob("*.py")),
    *sorted((SRC / "legacy").rglob("*.py")),
    SRC / "cli" / "imports.py",
    SRC / "web" / "routes" / "imports.py",
    SRC / "web" / "routes" / "upload.py",
    SRC / "web" / "routes" / "upload_check.py",
    SRC / "notifications" / "events.py",
]
STATES_MODULE = SRC / "imports" / "states.py"
#: Words that spell like a state but are not one: a notification's title ("Import of
#: customers.csv failed").
WORDS = {("notifications/events.py", "failed"), ("notifications/events.py", "undone")}


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in STATE_READERS]


def test_no_state_is_spelled_as_a_string_outside_the_enum() -> None:
    spelled = {str(s) for s in ImportState}
    found = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}"
        for path, tree in _trees()
        if path != STATES_MODULE
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and node.value in spelled
        and (path.relative_to(SRC).as_posix(), node.value) not in WORDS
    ]
    assert found == []


def test_only_the_states_module_moves_an_import() -> None:
    """``repo.move_state`` is called from :mod:`patron.imports.states` only, and no other
    update of an import sets its state (retention's purge takes its changes from the
    table, :func:`targets`)."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == STATES_MODULE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name == "move_state" or (
                name == "update_import" and any(k.arg == "state" for k in node.keywords)
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert found == []
