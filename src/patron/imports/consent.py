"""The consent an import records for the people of its file (the console's consent step).

Whoever uploads a file may state, per channel, that its people opted in to or out of
bulk messages: SMS to the mobile number, email to the address, as "Create individually"
does for one person. The commit records it, set-based, for every customer the import
inserted, updated or found unchanged whose row carries that channel's address (not for a
row the import refused or kept from updating its customer): the subscription, and a
consent-ledger entry with the import as its origin (``import:<id>``) and the uploading
user as its actor. What it replaced is kept for undo, which puts each subscription back
unless it changed again since (a conflict, left alone).
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.imports import codes
from patron.imports import repository as repo
from patron.imports.conflicts import no_conflicts
from patron.kit.errors import InvalidInput
from patron.subscriptions import service as subscriptions
from patron.subscriptions.service import DEFAULT_SOURCE, KEY, ORG_WIDE

#: The channels consent is asked for, and the field that carries each one's address.
CHANNELS = {"SMS": "mobile", "EMAIL": "email"}
#: Spellings accepted for a channel, upper-cased (the console says "mobile").
_CHANNEL_NAMES = {"SMS": "SMS", "MOBILE": "SMS", "EMAIL": "EMAIL"}
STATUSES = ("OPTIN", "OPTOUT")
#: Consent covers marketing messages, as the console's single profile does.
PRIORITY = "BULK"
#: The profiles whose rows register or update customers by their mobile and email.
CONSENT_PROFILES = ("loyalty-customers",)
#: The blob holding what the commit recorded, for undo.
UNDO_KIND = "undo:consent"
#: Row statuses of the customers consent is recorded for.
_ACCEPTED = ("insert", "update")


def parse(profile_id: str, given: Mapping[str, object] | None) -> dict[str, str] | None:
    """The consent to record, channel -> ``OPTIN`` / ``OPTOUT`` (``None``: nothing).

    A channel left empty records nothing for it; an unknown channel or status, or consent
    for a profile that creates no customers, is refused with 96109.
    """
    chosen: dict[str, str] = {}
    for name, value in (given or {}).items():
        status = str(value or "").strip().upper().replace("-", "")
        if not status:
            continue
        channel = _CHANNEL_NAMES.get(str(name).strip().upper())
        if channel is None:
            raise InvalidInput(
                codes.CONSENT_INVALID,
                f"consent is recorded for mobile (SMS) and email, not for {name!r}",
            )
        if status not in STATUSES:
            raise InvalidInput(
                codes.CONSENT_INVALID, f"consent for {channel} is OPTIN or OPTOUT, not {value!r}"
            )
        chosen[channel] = status
    if chosen and profile_id not in CONSENT_PROFILES:
        raise InvalidInput(
            codes.CONSENT_INVALID,
            f"the {profile_id} profile records no consent; only "
            f"{', '.join(CONSENT_PROFILES)} imports do",
        )
    return chosen or None


def channels_of(profile_id: str, mapping: Mapping[str, str]) -> list[str]:
    """The channels consent can be recorded for: the profile's, whose field is mapped."""
    if profile_id not in CONSENT_PROFILES:
        return []
    mapped = set(mapping.values())
    return [channel for channel, field in CHANNELS.items() if field in mapped]


def record(
    conn: Connection,
    found: RowMapping,
    rows: pl.DataFrame,
    recorded_before: pl.DataFrame | None = None,
) -> pl.DataFrame | None:
    """Record the import's consent for the customers of its accepted ``rows`` (the rows
    the commit planned, with their final ``customer_id``); answer what it recorded, with the
    statuses it replaced, for undo (``None``: the import records no consent).

    ``recorded_before``: the subscriptions (:data:`KEY`) earlier chunks of the same import
    recorded; the first row naming a subscription decides it, as in a whole file, so they
    are left alone here.

    Two statements whatever the number of customers: the subscriptions, then the ledger.
    """
    consent: dict[str, str] | None = found["consent"]
    if not consent:
        return None
    # A row skipped as unchanged names the person all the same; one skipped with a code
    # (an existing customer the options keep from being updated) is left alone.
    unchanged = (pl.col("status") == "skip") & (pl.col("error_codes").list.len() == 0)
    accepted = rows.filter(
        (pl.col("status").is_in(_ACCEPTED) | unchanged) & pl.col("customer_id").is_not_null()
    )
    parts = [
        accepted.filter(pl.col(field).is_not_null()).select(
            pl.col("customer_id").cast(pl.Int64),
            channel=pl.lit(channel),
            status=pl.lit(consent[channel]),
        )
        for channel, field in CHANNELS.items()
        if channel in consent and field in accepted.columns
    ]
    wanted = (
        pl.concat(parts).unique(["customer_id", "channel"], keep="first", maintain_order=True)
        if parts
        else pl.DataFrame(
            schema={"customer_id": pl.Int64, "channel": pl.String, "status": pl.String}
        )
    ).with_columns(
        priority=pl.lit(PRIORITY),
        org_unit_id=pl.lit(ORG_WIDE, dtype=pl.Int64),
        source=pl.lit(DEFAULT_SOURCE),
        account_id=pl.lit(""),
    )
    if recorded_before is not None and not recorded_before.is_empty():
        wanted = wanted.join(recorded_before.select(KEY), on=list(KEY), how="anti")
    org_id = int(found["org_id"])
    before = subscriptions.statuses_of(conn, org_id, wanted.select(KEY))
    changes = wanted.join(
        before.rename({"status": "previous_status"}), on=list(KEY), how="left"
    ).select(*KEY, "status", "previous_status")
    if not changes.is_empty():
        subscriptions.record_many(
            conn,
            org_id,
            changes,
            actor=str(found["created_by"] or f"import:{found['id']}"),
            origin=f"import:{found['id']}",
        )
    return changes


def undo(conn: Connection, found: RowMapping) -> pl.DataFrame:
    """Put back the subscriptions the import's consent changed; answer the conflicts (those
    changed again since, left alone). Runs before the profile's undo, so that a customer
    the import created holds no subscription of the import's when its removal is weighed.

    An import in chunks stored its changes a part per chunk, each subscription in one part
    only (the first row naming it decides): the parts are put back one at a time, in order,
    as the whole frame would be."""
    org_id, import_id = int(found["org_id"]), int(found["id"])
    conflicts = [
        _undo_part(conn, org_id, import_id, changes)
        for changes in repo.iter_parts(conn, org_id, import_id, UNDO_KIND)
        if not changes.is_empty()
    ]
    return pl.concat(conflicts) if conflicts else no_conflicts()


def _undo_part(
    conn: Connection, org_id: int, import_id: int, changes: pl.DataFrame
) -> pl.DataFrame:
    now = subscriptions.statuses_of(conn, org_id, changes.select(KEY))
    compared = changes.join(now.rename({"status": "now"}), on=list(KEY), how="left")
    moved = pl.col("now").ne_missing(pl.col("status"))
    subscriptions.restore_many(
        conn,
        org_id,
        compared.filter(~moved).drop("now"),
        actor=f"import:{import_id}",
        origin=f"undo:import:{import_id}",
        reason=f"undo of import {import_id}",
    )
    return compared.filter(moved).select(
        pl.col("customer_id").cast(pl.Int64),
        field=pl.format("subscription {}/{}", "channel", "priority"),
        reason=pl.lit("the consent changed again since the import"),
    )


def own_origins(import_id: int) -> tuple[str, str]:
    """The consent-ledger origins of an import's own entries and of its undo's."""
    return f"import:{import_id}", f"undo:import:{import_id}"
