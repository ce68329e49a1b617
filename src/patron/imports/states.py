"""An import's states, the transitions allowed between them, and the one function that moves
an import from one to another.

The state is stored as its string on the ``imports`` row (and answered as such by the API
and the CLI); :class:`ImportState` is a ``StrEnum``, so a member equals its stored string.
:data:`TRANSITIONS` is the whole machine: :func:`move` refuses any change it does not list,
before touching the row, and otherwise performs it as a compare-and-set on the row's state,
so two processes racing over one import never both move it. (Retention's purge, which
changes many imports in one statement, takes its changes from the table too: :func:`targets`.)
``docs/imports.md`` shows the same table as a diagram (:func:`mermaid`; a test keeps the two
equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from patron.imports import repository as repo


class ImportState(StrEnum):
    #: Uploaded in the console, waiting for its mapping, options and consent.
    DRAFT = "draft"
    #: Waiting for, or in, its preview: every row validated and resolved, nothing written.
    VALIDATING = "validating"
    #: Previewed: waiting for someone to confirm (or cancel) it.
    PREVIEWED = "previewed"
    #: Confirmed (or replayed, or retried): waiting for a worker to commit it.
    QUEUED = "queued"
    COMMITTING = "committing"
    COMMITTED = "committed"
    #: Its undo was asked for: waiting for a worker.
    UNDO_QUEUED = "undo_queued"
    UNDOING = "undoing"
    UNDONE = "undone"
    CANCELLED = "cancelled"
    #: The commit failed after its retries; it can be replayed for a while.
    FAILED = "failed"
    #: The file could not be mapped or committed as it is (a terminal refusal).
    INVALID = "invalid"


S = ImportState


class Transition(NamedTuple):
    source: ImportState
    target: ImportState
    #: What moves it: an actor's action, or the step of a worker (or retention) that does.
    action: str


#: Every change of state an import may go through, and what makes it.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.DRAFT, S.VALIDATING, "set_up"),
    Transition(S.VALIDATING, S.PREVIEWED, "preview"),
    Transition(S.VALIDATING, S.INVALID, "refuse"),
    Transition(S.PREVIEWED, S.DRAFT, "back_to_mapping"),
    Transition(S.INVALID, S.DRAFT, "back_to_mapping"),
    Transition(S.PREVIEWED, S.QUEUED, "confirm"),
    Transition(S.QUEUED, S.COMMITTING, "start_commit"),
    Transition(S.QUEUED, S.COMMITTED, "commit"),
    Transition(S.COMMITTING, S.COMMITTED, "commit"),
    Transition(S.QUEUED, S.INVALID, "refuse"),
    Transition(S.COMMITTING, S.INVALID, "refuse"),
    Transition(S.COMMITTING, S.QUEUED, "retry"),
    Transition(S.COMMITTING, S.FAILED, "give_up"),
    Transition(S.FAILED, S.QUEUED, "replay"),
    Transition(S.DRAFT, S.CANCELLED, "cancel"),
    Transition(S.VALIDATING, S.CANCELLED, "cancel"),
    Transition(S.PREVIEWED, S.CANCELLED, "cancel"),
    Transition(S.QUEUED, S.CANCELLED, "cancel"),
    # Retention cancels an upload nobody mapped and a preview nobody confirmed.
    Transition(S.DRAFT, S.CANCELLED, "purge"),
    Transition(S.PREVIEWED, S.CANCELLED, "purge"),
    Transition(S.COMMITTED, S.UNDO_QUEUED, "undo"),
    Transition(S.UNDO_QUEUED, S.UNDOING, "start_undo"),
    Transition(S.UNDO_QUEUED, S.UNDONE, "finish_undo"),
    Transition(S.UNDOING, S.UNDONE, "finish_undo"),
    Transition(S.UNDO_QUEUED, S.COMMITTED, "undo_failed"),
    Transition(S.UNDOING, S.COMMITTED, "undo_failed"),
)

#: State -> the states it may move to.
ALLOWED: dict[ImportState, frozenset[ImportState]] = {
    state: frozenset(t.target for t in TRANSITIONS if t.source == state) for state in ImportState
}

#: The states an import is created in: a console upload, a file to preview, one confirmed
#: up front.
INITIAL = (S.DRAFT, S.VALIDATING, S.QUEUED)
#: States a worker has something to do in (the jobs claim imports in these only).
RUNNABLE = (S.VALIDATING, S.QUEUED, S.COMMITTING, S.UNDO_QUEUED, S.UNDOING)
#: States waiting for a person: the mapping of a draft, the confirmation of a preview.
AWAITING_USER = (S.DRAFT, S.PREVIEWED)
#: States in which something is still to happen (the console lists these first).
UNFINISHED = (*AWAITING_USER, *RUNNABLE)
#: States in which nothing more happens to an import unless someone asks: where a caller
#: that runs or waits for an import's steps (the CLI, the legacy batch) stops.
SETTLED = tuple(state for state in ImportState if state not in RUNNABLE)


class TransitionNotAllowed(RuntimeError):
    """A caller asked for a change of state the machine does not have: a programming
    mistake, never an actor's (an actor's request meets the state the import is in, and is
    refused with 96201 by the caller when :func:`move` answers ``False``)."""


def sources(action: str) -> tuple[ImportState, ...]:
    """The states ``action`` moves an import from, in the order of :class:`ImportState`."""
    found = {t.source for t in TRANSITIONS if t.action == action}
    if not found:
        raise TransitionNotAllowed(f"no transition is named {action!r}")
    return tuple(state for state in ImportState if state in found)


def targets(action: str) -> dict[ImportState, ImportState]:
    """Where ``action`` moves an import, by the state it starts from. For a change made to
    many imports in one statement (retention's purge), which :func:`move` does not make."""
    found = {t.source: t.target for t in TRANSITIONS if t.action == action}
    if not found:
        raise TransitionNotAllowed(f"no transition is named {action!r}")
    return {state: found[state] for state in ImportState if state in found}


def check(source: ImportState, target: ImportState) -> None:
    """Refuse a change of state the machine does not allow."""
    if target not in ALLOWED[ImportState(source)]:
        raise TransitionNotAllowed(f"an import cannot move from {source} to {target}")


def move(
    conn: Connection,
    org_id: int,
    import_id: int,
    source: ImportState | Iterable[ImportState],
    target: ImportState,
    **values: Any,
) -> bool:
    """Move the import to ``target`` (writing ``values`` beside) if it is in ``source`` now.

    Every pair ``source -> target`` must be a transition of :data:`TRANSITIONS`, or
    :class:`TransitionNotAllowed` is raised and nothing is written. Answers ``False``, and
    writes nothing, when the import is in none of ``source`` (someone moved it meanwhile).
    """
    expected = (source,) if isinstance(source, ImportState) else tuple(source)
    if not expected:
        raise TransitionNotAllowed("a move needs the states it starts from")
    for state in expected:
        check(state, target)
    return repo.move_state(
        conn, org_id, import_id, tuple(str(s) for s in expected), state=str(target), **values
    )


def mermaid() -> str:
    """The machine as a Mermaid state diagram (``docs/imports.md`` shows it)."""
    lines = ["stateDiagram-v2"]
    lines += [f"    [*] --> {state}" for state in INITIAL]
    labels: dict[tuple[ImportState, ImportState], list[str]] = {}
    for t in TRANSITIONS:
        labels.setdefault((t.source, t.target), []).append(t.action)
    lines += [
        f"    {source} --> {target}: {' / '.join(actions)}"
        for (source, target), actions in labels.items()
    ]
    return "\n".join(lines) + "\n"
