"""Running the legacy batch API's requests over the import pipeline.

A ``customers_batch`` becomes an import of the ``legacy-customers`` profile, run
synchronously: created, previewed, confirmed and committed, as any import, each
step in its own transaction. Imports of one org run one after another, so a batch
waits (a bounded while) for another import of its org to finish its step, then
gives up with "busy" and cancels itself.

The clear password and PIN of each row are hashed before anything is stored
(argon2id; HMAC-SHA256 with the instance secret for the PIN, DESIGN.md §6).
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, Engine, RowMapping

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.auth.secrets import hash_password, keyed_digest
from patron.codes import generic
from patron.imports import codes, jobs
from patron.imports import repository as imports_repository
from patron.imports import service as imports
from patron.imports.profiles.legacy_customers.spec import PROFILE_ID, SECRETS_KIND
from patron.imports.states import RUNNABLE, ImportState
from patron.kit.db import transaction
from patron.kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatronError,
    Unauthenticated,
)
from patron.legacy import repository
from patron.legacy.form import Credentials, CustomersBatch, secret_problems
from patron.legacy.render import BatchResult, RowResult
from patron.loyalty import service as loyalty
from patron.orgs import repository as orgs_repository

#: How long a batch waits for another import of its org before answering "busy".
BUSY_WAIT_SECONDS = 60.0
POLL_SECONDS = 0.2
BAD_CREDENTIALS = "invalid credentials"
STATUS_WORDS = {
    "inserted": "new",
    "updated": "updated",
    "skipped": "skipped",
    "rejected": "rejected",
}
_ERROR_TEXT = re.compile(r"^\w+: (\d+): (.*)$", re.DOTALL)


class NothingDone(Conflict):
    """The batch changed nothing and may be sent again as it is (another import held the
    org, or the commit failed): under an ``Idempotency-Key`` its answer is not kept."""


def authenticate(conn: Connection, given: Credentials) -> Actor:
    """The patron user behind the form's credentials, a user of the org named ``account_id``
    with the editor role. A wrong user, password or account all answer the same."""
    try:
        actor = auth.authenticate_password(conn, given.user, given.password)
    except Unauthenticated:
        raise Unauthenticated(generic.UNAUTHENTICATED, BAD_CREDENTIALS) from None
    org = orgs_repository.find_org_by_name(conn, given.account)
    if org is None or int(org["id"]) != actor.org_id:
        raise Unauthenticated(generic.UNAUTHENTICATED, BAD_CREDENTIALS)
    if not actor.can(Role.editor):
        raise Forbidden(generic.FORBIDDEN, "this user may not import: the editor role is needed")
    return actor


def run_customers_batch(engine: Engine, actor: Actor, batch: CustomersBatch) -> BatchResult:
    """Import ``batch`` to its commit; answer the counts and every line's outcome."""
    secrets = hash_secrets(batch.secrets)  # slow on purpose: before any transaction
    request = imports.ImportRequest(
        profile=PROFILE_ID,
        file_name="batch (form post)",
        mapping=batch.mapping,
        options={
            "overwrite": batch.overwrite,
            "no_undo": batch.no_undo,
            "card_number_generate": batch.card_number_generate,
            "campaigns": batch.campaigns,
        },
    )
    with transaction(engine) as conn:
        loyalty.campaigns_by_number(conn, actor.org_id, batch.campaigns)
        import_id = imports.create_import(conn, actor, request, batch.table).import_id
        imports_repository.put_frame(conn, actor.org_id, import_id, SECRETS_KIND, secrets)
    found = _settle(engine, actor, import_id)
    if found["state"] == ImportState.INVALID:
        raise _refusal(found)
    with transaction(engine) as conn:
        imports.confirm(conn, actor, import_id)
    found = _settle(engine, actor, import_id)
    if found["state"] != ImportState.COMMITTED:
        raise NothingDone(
            codes.IMPORT_NOT_DONE,
            f"the batch could not be written ({found['state']}); nothing was changed: "
            f"try again later (import {import_id})",
        )
    return _result(engine, actor, batch, found)


def hash_secrets(secrets: pl.DataFrame) -> pl.DataFrame:
    """(row, password_hash, pin_digest, password_problem, pin_problem) from clear values."""
    checked = secret_problems(secrets)
    passwords = checked.filter(
        pl.col("password").is_not_null() & pl.col("password_problem").is_null()
    )
    # argon2id is slow by design (and releases the GIL): hash on every core.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(hash_password, passwords["password"].to_list()))
    pins = checked.filter(pl.col("pin").is_not_null() & pl.col("pin_problem").is_null())
    digests = [keyed_digest(f"pin:{pin}") for pin in pins["pin"].to_list()]
    return (
        checked.select("row", "password_problem", "pin_problem")
        .join(
            pl.DataFrame(
                {"row": passwords["row"], "password_hash": hashes},
                schema={"row": pl.Int64, "password_hash": pl.String},
            ),
            on="row",
            how="left",
        )
        .join(
            pl.DataFrame(
                {"row": pins["row"], "pin_digest": digests},
                schema={"row": pl.Int64, "pin_digest": pl.String},
            ),
            on="row",
            how="left",
        )
        .select("row", "password_hash", "pin_digest", "password_problem", "pin_problem")
    )


def _settle(engine: Engine, actor: Actor, import_id: int) -> RowMapping:
    """Run the import's steps here until it waits for someone (or waiting takes too long)."""
    deadline = time.monotonic() + BUSY_WAIT_SECONDS
    while True:
        state = jobs.run_import(engine, actor.org_id, import_id)
        if state not in RUNNABLE:
            with transaction(engine, write=False) as conn:
                return imports.get_import(conn, actor, import_id)
        if time.monotonic() >= deadline:
            raise _busy(engine, actor, import_id, state)
        time.sleep(POLL_SECONDS)  # another import of the org holds the lease


def _busy(engine: Engine, actor: Actor, import_id: int, state: str) -> PatronError:
    if state in imports.CANCELLABLE:
        try:
            with transaction(engine) as conn:
                imports.cancel(conn, actor, import_id)
        except Conflict:
            pass  # it moved on meanwhile
        else:
            return NothingDone(
                generic.CONFLICT,
                "another import of this account is running: nothing was imported; "
                "send the batch again in a minute",
            )
    return Conflict(
        generic.CONFLICT,
        f"another import of this account is running: this one ({import_id}) is {state} "
        "and will go on when it ends",
    )


def _refusal(found: RowMapping) -> PatronError:
    """The error a preview failed with, as the caller should read it."""
    match = _ERROR_TEXT.match(str(found["message"]))
    if match and found["message"].startswith(("InvalidInput", "NotFound", "Conflict")):
        return InvalidInput(int(match.group(1)), match.group(2))
    return InvalidInput(
        codes.UNREADABLE_FILE, f"the batch could not be read (import {found['id']})"
    )


def _result(engine: Engine, actor: Actor, batch: CustomersBatch, found: RowMapping) -> BatchResult:
    import_id = int(found["id"])
    with transaction(engine, write=False) as conn:
        outcomes = imports.outcomes(conn, actor, import_id)
        stored = repository.codes_and_cards(conn, actor.org_id, outcomes["customer_id"])
    table = batch.table.frame
    given = pl.DataFrame(
        {
            "row": pl.int_range(table.height, dtype=pl.Int64, eager=True),
            "given_code": _column(table, batch.code_column),
            "given_card": _column(table, batch.card_column),
        }
    ).with_columns(pl.col("given_code", "given_card").str.strip_chars())
    rows = (
        outcomes.join(given, on="row", how="left")
        .join(stored, on="customer_id", how="left")
        .sort("row")
    )
    results = []
    for row in rows.iter_rows(named=True):
        status = STATUS_WORDS[row["status"]]
        refused = status == "rejected"
        messages = list(zip(row["error_codes"], row["errors"], strict=True))
        results.append(
            RowResult(
                line=row["row"] + 1,
                status=status,
                customer_id=row["customer_id"],
                code=row["given_code"] if refused else (row["code"] or row["given_code"]),
                card_number=row["given_card"] or (None if refused else row["card_number"]),
                errors=messages if refused else [],
                notices=[] if refused else messages,
            )
        )
    counts = found["counts"]
    undo_state = None if batch.no_undo else import_id
    return BatchResult(
        import_id=import_id,
        undo_state=undo_state,
        counts={word: int(counts.get(name, 0)) for name, word in STATUS_WORDS.items()},
        rows=results,
    )


def _column(table: pl.DataFrame, name: str | None) -> pl.Series:
    if name is None:
        return pl.Series([None] * table.height, dtype=pl.String)
    return table[name]


# --- undo states ------------------------------------------------------------------------


def list_undo_states(
    conn: Connection, actor: Actor, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The org's batches that recorded an undo state, newest first."""
    found, total = repository.undo_states(conn, actor.org_id, PROFILE_ID, limit, offset)
    return [undo_state(row) for row in found], total


def undo_state(row: RowMapping) -> dict[str, Any]:
    counts = row["counts"]
    return {
        "id": int(row["id"]),
        "state": str(row["state"]),
        "undoable": row["state"] == ImportState.COMMITTED,
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "committed_at": row["committed_at"],
        "undone_at": row["undone_at"],
        "customers": {word: int(counts.get(name, 0)) for name, word in STATUS_WORDS.items()},
        "undo_conflicts": counts.get("undo_conflicts"),
    }


def undo_batch(engine: Engine, actor: Actor, undo_id: int) -> tuple[dict[str, Any], pl.DataFrame]:
    """Undo a batch by its undo state (its import's id); answer the state and the conflicts."""
    with transaction(engine) as conn:
        found = imports_repository.get_import(conn, actor.org_id, undo_id)
        if found is None or found["profile"] != PROFILE_ID:
            raise NotFound(codes.UNKNOWN_IMPORT, f"no batch undo state {undo_id}")
        imports.request_undo(conn, actor, undo_id)
    found = _settle(engine, actor, undo_id)
    if found["state"] != ImportState.UNDONE:
        raise Conflict(
            codes.WRONG_STATE,
            f"the undo of batch {undo_id} did not finish ({found['state']}): {found['message']}",
        )
    with transaction(engine, write=False) as conn:
        conflicts = imports.conflicts(conn, actor, undo_id)
    return undo_state(found), conflicts
