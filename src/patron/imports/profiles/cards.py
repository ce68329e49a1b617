"""Card Import: load cards of existing series, and hand them to customers.

A row gives a card number of a series of the org (it must fit the series'
prefix, suffix and length), its status label (an org label, or a system status
NOT_ISSUED, ACTIVE, INACTIVE, DELETED or EXPIRED, in any letter case), its till
or store, and optionally the customer who holds it, by the identifier the
template's ``unique_identifier`` chooses (``link_user`` off: customer columns are
ignored). An unknown number creates the card; a known one is updated.

A card number belongs to one customer at most: a card held by someone else is
refused, and a linked card is also a ``cardnumber`` identifier of its holder, so
the holder is found by it like by any identifier. A number, or a card external
id, in two rows of the file rejects every such row.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import columns as card_columns
from patron.cards import repository, service
from patron.cards.rules import CARD_NUMBER_MAX_LENGTH
from patron.cards.tables import cards
from patron.customer.tables import identifiers
from patron.imports import columns
from patron.imports.changelog import log_changes
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import (
    customer_key,
    customer_states,
    find_customers,
    key_option,
    reject_fraud,
)
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, OptionSpec, Plan, ProfileSpec
from patron.imports.profiles.card_series import STORE_FIELD, series_code_rule
from patron.imports.rowcheck import Checks, add_errors
from patron.imports.stores import STORES_BY_EXTERNAL_ID, store_rule
from patron.kit.bulk import next_ids

FIELDS = (
    FieldSpec(
        "card_number",
        "Card Number",
        "The card's number, as its series shapes it (prefix, suffix, length).",
        ("number", "card no", "card", "cardnumber"),
    ),
    FieldSpec(
        "series_code",
        "Card Series Code",
        "The code of the card's series (any letter case).",
        ("series code", "card series", "series"),
    ),
    FieldSpec(
        "status_label",
        "Card Status Label",
        "The card's status: an org label or NOT_ISSUED, ACTIVE, INACTIVE, DELETED, EXPIRED.",
        ("status label", "card status", "status", "label"),
    ),
    STORE_FIELD,
    FieldSpec(
        "user_id",
        "User Id",
        "patron's id of the customer who holds the card.",
        ("user id", "userid", "customer id"),
        "integer",
    ),
    FieldSpec("mobile", "Mobile", "The holder's mobile number.", ("mobile no", "phone")),
    FieldSpec("email", "Email", "The holder's email address.", ("email id", "e-mail")),
    FieldSpec(
        "external_id",
        "External Id",
        "The holder's id in the brand's systems.",
        ("customer external id", "externalid"),
    ),
    FieldSpec(
        "card_external_id",
        "Card External ID",
        "The card's id in the brand's systems (one card each).",
        ("card external id", "card uuid", "card ext id"),
    ),
)
LINK_USER = OptionSpec(
    "link_user",
    "bool",
    True,
    "Rows that name a customer give the card to that customer; off: the customer columns "
    "are ignored and cards are loaded without holders.",
)
SPEC = ProfileSpec(
    id="cards",
    name="Card Import",
    fields=FIELDS,
    options=(key_option(), LINK_USER, STORES_BY_EXTERNAL_ID),
)
#: What the undo compares and restores, by the name the frames give it.
TRACKED = {"status_label": "status_label", "unit_id": "store", "external_id": "card_external_id"}
CONFLICT_SCHEMA = {"customer_id": pl.Int64, "field": pl.String, "reason": pl.String}
_ADDED = pl.Struct({"type": pl.String, "value": pl.String})


class Cards:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("inserted", "updated")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        wanted = ("card_number", "series_code", "status_label", "store")
        return [name for name in wanted if name not in mapped]

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan:
        key = ctx.options["unique_identifier"]
        linking = bool(ctx.options["link_user"]) and key in ctx.columns
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        _number_rule(checks, ctx)
        series_code_rule(checks, ctx)
        _series_rule(conn, checks, ctx)
        _label_rule(conn, checks, ctx)
        store_rule(checks, ctx, what="store or till")
        checks.rule(
            "card_external_id",
            columns.external_id(pl.col("card_external_id")),
            RowCode.CARD_EXTERNAL_ID_INVALID,
            "invalid card external id",
        )
        if linking:
            customer_key(checks, ctx, key, required=False)
        rows = checks.result()
        rows = reject_duplicates(
            rows, ctx, "card_number", RowCode.DUPLICATE_CARD_IN_FILE, "card number"
        )
        rows = reject_duplicates(
            rows,
            ctx,
            "card_external_id",
            RowCode.DUPLICATE_CARD_EXTERNAL_ID_IN_FILE,
            "card external id",
        )
        if linking:
            rows = find_customers(conn, rows, ctx, key)
        else:
            rows = rows.with_columns(customer_id=pl.lit(None, dtype=pl.Int64))
        rows = _against_the_store(conn, ctx, rows.rename({"customer_id": "row_customer_id"}))
        # The holder after the row: the customer it names, else whoever holds the card now.
        # A holder marked as fraud cannot be changed, so neither can their cards.
        rows = rows.with_columns(customer_id=pl.coalesce("row_customer_id", "holder_id"))
        rows = reject_fraud(rows, customer_states(conn, ctx, rows["customer_id"]))
        return Plan(rows=_decide(rows, ctx))

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        rows = plan.rows
        written = rows.filter(pl.col("status").is_in(("insert", "update")))
        linked = written.filter(pl.col("new_identifier"))
        linked = linked.with_columns(
            next_ids(conn, identifiers, linked.height).alias("identifier_id")
        ).select("row", "identifier_id")
        rows = rows.join(linked, on="row", how="left", maintain_order="left")
        fresh = rows.filter(pl.col("status") == "insert")
        fresh = fresh.with_columns(next_ids(conn, cards, fresh.height).alias("card_id"))
        repository.insert_cards(
            conn,
            fresh.select(
                id="card_id",
                org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
                series_id="series_id",
                number="card_number",
                status="system_status",
                status_label="label",
                customer_id="customer_id",
                unit_id="store_unit_id",
                external_id="card_external_id",
                issued_at="new_issued_at",
                expires_at="new_expires_at",
            ),
        )
        changed = rows.filter(pl.col("status") == "update")
        repository.write_cards(
            conn,
            ctx.org_id,
            changed.select(
                id="card_id",
                status="system_status",
                status_label="label",
                unit_id="store_unit_id",
                external_id=pl.coalesce("card_external_id", "card_external_id_stored"),
                customer_id="customer_id",
                issued_at=pl.coalesce("new_issued_at", "card_issued_at"),
                expires_at=pl.when(pl.col("new_issued_at").is_not_null())
                .then("new_expires_at")
                .otherwise("card_expires_at"),
            ),
        )
        _add_identifiers(conn, ctx, rows.filter(pl.col("identifier_id").is_not_null()))
        inserted = fresh.select(
            "card_id",
            number="card_number",
            status_label="label",
            unit_id="store_unit_id",
            external_id="card_external_id",
            holder_id="customer_id",
            identifier_id="identifier_id",
        )
        updated = changed.select(
            "card_id",
            number="card_number",
            old_status="card_status",
            old_status_label="card_status_label",
            old_unit_id="card_unit_id",
            old_external_id="card_external_id_stored",
            old_customer_id="card_customer_id",
            old_issued_at="card_issued_at",
            old_expires_at="card_expires_at",
            new_status_label="label",
            new_unit_id="store_unit_id",
            new_external_id=pl.coalesce("card_external_id", "card_external_id_stored"),
            holder_id="customer_id",
            identifier_id="identifier_id",
        )
        return rows, {"inserted": inserted, "updated": updated}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        inserted, updated = data["inserted"], data["updated"]
        now = repository.current_cards(
            conn, ctx.org_id, pl.concat([inserted["card_id"], updated["card_id"]])
        )
        conflicts = [
            _undo_updates(conn, ctx, updated, now),
            _undo_inserts(conn, ctx, inserted, now),
        ]
        return pl.concat(conflicts)


# --- validation -------------------------------------------------------------------------


def _number_rule(checks: Checks, ctx: ImportContext) -> None:
    checks.rule(
        "card_number",
        columns.plain_identifier(pl.col("card_number"), max_length=CARD_NUMBER_MAX_LENGTH),
        RowCode.CARD_NUMBER_INVALID,
        "invalid card number",
    )
    raw = checks.raw("card_number").str.strip_chars()
    checks.error(
        raw.is_null() | (raw == ""), RowCode.CARD_NUMBER_EMPTY, pl.lit("the card number is empty")
    )


def _series_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``series_key`` -> the series (``series_id``, its shape); the number must fit it."""
    stored = repository.series_frame(conn, ctx.org_id).select(
        "series_id",
        "prefix",
        "suffix",
        "length",
        "expiry_days",
        series_key=pl.col("code").str.to_uppercase(),
        series_name=pl.col("code"),
    )
    checks.frame = checks.frame.join(stored, on="series_key", how="left", maintain_order="left")
    code = pl.col("series_code")
    valid_code = code.is_not_null() & card_columns.series_code_problem(code).is_null()
    checks.error(
        valid_code & pl.col("series_id").is_null(),
        RowCode.SERIES_UNKNOWN,
        pl.format("unknown card series '{}': add the series first (card-series import)", code),
    )
    number = pl.col("card_number")
    misfit = card_columns.misfit(number, pl.col("prefix"), pl.col("suffix"), pl.col("length"))
    checks.error(
        pl.col("series_id").is_not_null() & number.is_not_null() & misfit.is_not_null(),
        RowCode.CARD_NUMBER_NOT_IN_SERIES,
        pl.format(
            "card number {} does not fit series {}: {}", number, pl.col("series_name"), misfit
        ),
    )


def _label_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``status_label`` -> ``label`` (as the org spells it) and ``system_status``."""
    known = service.labels(conn, ctx.org_id)
    labels = pl.DataFrame(
        {
            "_label_key": [label.key for label in known],
            "label": [label.label for label in known],
            "system_status": [label.system_status for label in known],
        },
        schema={"_label_key": pl.String, "label": pl.String, "system_status": pl.String},
    )
    text = checks.raw("status_label").str.strip_chars()
    checks.frame = (
        checks.frame.with_columns(card_columns.label_key(text).alias("_label_key"))
        .join(labels, on="_label_key", how="left", maintain_order="left")
        .drop("_label_key")
    )
    empty = text.is_null() | (text == "")
    listed = ", ".join(label.label for label in known)
    checks.error(empty, RowCode.CARD_STATUS_LABEL_EMPTY, pl.lit("the card status label is empty"))
    checks.error(
        ~empty & pl.col("label").is_null(),
        RowCode.CARD_STATUS_LABEL_UNKNOWN,
        pl.format("unknown card status label '{}'; the labels are: {}", text, pl.lit(listed)),
    )


# --- resolving against the store ----------------------------------------------------------


def _against_the_store(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The stored card (and holder) of each number; a card of another series or of another
    customer, or an external id of another card, rejects the row."""
    stored = repository.card_states(conn, ctx.org_id, rows["card_number"].drop_nulls())
    codes = repository.series_frame(conn, ctx.org_id).select(
        card_series_id="series_id", card_series_code="code"
    )
    rows = rows.join(
        stored.rename({"card_external_id": "card_external_id_stored"}).join(
            codes, on="card_series_id", how="left"
        ),
        left_on="card_number",
        right_on="number",
        how="left",
        maintain_order="left",
    )
    other_series = rows.filter(
        pl.col("card_id").is_not_null()
        & pl.col("series_id").is_not_null()
        & (pl.col("card_series_id") != pl.col("series_id"))
    ).select(
        "row",
        message=pl.format(
            "card {} belongs to series {}, not {}", "card_number", "card_series_code", "series_name"
        ),
    )
    rows = add_errors(rows, other_series, RowCode.CARD_IN_OTHER_SERIES)
    taken = rows.filter(
        pl.col("holder_id").is_not_null()
        & pl.col("row_customer_id").is_not_null()
        & (pl.col("holder_id") != pl.col("row_customer_id"))
    ).select(
        "row",
        message=pl.format(
            "card number {} is already issued to another customer (id {})",
            "card_number",
            "holder_id",
        ),
    )
    rows = add_errors(rows, taken, RowCode.CARD_OF_OTHER_CUSTOMER)
    named = repository.cards_by_external_id(conn, ctx.org_id, rows["card_external_id"].drop_nulls())
    others = (
        rows.join(named, on="card_external_id")
        .filter(pl.col("owner_number") != pl.col("card_number"))
        .select(
            "row",
            message=pl.format(
                "card external id {} already names card {}", "card_external_id", "owner_number"
            ),
        )
    )
    return add_errors(rows, others, RowCode.CARD_EXTERNAL_ID_OF_OTHER_CARD)


def _decide(rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Each row's status and, for a card that changes hands, its issue dates."""
    newly_held = pl.col("customer_id").is_not_null() & pl.col("card_customer_id").ne_missing(
        pl.col("customer_id")
    )
    issued = pl.lit(ctx.now, dtype=pl.Datetime("us", "UTC"))
    rows = rows.with_columns(
        new_issued_at=pl.when(newly_held).then(issued),
        new_expires_at=pl.when(newly_held & (pl.col("expiry_days") > 0)).then(
            issued + pl.duration(days=pl.col("expiry_days"))
        ),
        new_identifier=pl.col("customer_id").is_not_null() & pl.col("holder_id").is_null(),
    )
    differs = (
        pl.col("label").ne_missing(pl.col("card_status_label"))
        | pl.col("store_unit_id").ne_missing(pl.col("card_unit_id"))
        | (
            pl.col("card_external_id").is_not_null()
            & pl.col("card_external_id").ne_missing(pl.col("card_external_id_stored"))
        )
        | pl.col("customer_id").ne_missing(pl.col("card_customer_id"))
    )
    return rows.with_columns(
        status=pl.when(pl.col("error_codes").list.len() > 0)
        .then(pl.lit("reject"))
        .when(pl.col("card_id").is_null())
        .then(pl.lit("insert"))
        .when(differs)
        .then(pl.lit("update"))
        .otherwise(pl.lit("skip"))
    )


# --- writing and undoing -------------------------------------------------------------------


def _add_identifiers(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> None:
    """Each newly held card becomes a ``cardnumber`` identifier of its holder."""
    if rows.is_empty():
        return
    profiles = repository.holder_profiles(conn, ctx.org_id, rows["customer_id"])
    added = rows.join(profiles, on="customer_id", how="left")
    repository.insert_card_identifiers(
        conn,
        added.select(
            id="identifier_id",
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
            customer_id="customer_id",
            profile_id="profile_id",
            value="card_number",
        ),
    )
    log_changes(
        conn, ctx, _identifier_log(added, "customer_id", "card_number", add=True), "IDENTIFIER"
    )


def _identifier_log(frame: pl.DataFrame, customer: str, number: str, *, add: bool) -> pl.DataFrame:
    """Change-log entries as ``changeIdentifier`` writes them (``add`` and ``remove`` lists)."""
    item = pl.concat_list(pl.struct(type=pl.lit("cardnumber"), value=pl.col(number)))
    none = pl.lit([], dtype=pl.List(_ADDED))
    return frame.select(
        customer_id=customer,
        details=pl.struct(add=item if add else none, remove=none if add else item),
    )


def _undo_inserts(
    conn: Connection, ctx: ImportContext, inserted: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    """Cards the import created go, with their identifiers, unless changed since."""
    compared = inserted.join(now, on="card_id", how="inner")
    same = pl.all_horizontal(
        pl.col(column).eq_missing(pl.col(f"now_{column}")) for column in TRACKED
    ) & pl.col("holder_id").eq_missing(pl.col("now_customer_id"))
    doomed = compared.filter(same)
    _remove_identifiers(conn, ctx, doomed)
    repository.delete_cards(conn, ctx.org_id, doomed["card_id"])
    return compared.filter(~same).select(
        customer_id="now_customer_id",
        field=pl.lit("card_number"),
        reason=pl.format("card {}: changed since the import; the card was kept", "number"),
    )


def _undo_updates(
    conn: Connection, ctx: ImportContext, updated: pl.DataFrame, now: pl.DataFrame
) -> pl.DataFrame:
    """Fields the import changed come back where nobody changed them again; so does the link."""
    compared = updated.join(now, on="card_id", how="inner")
    conflicts = []
    restored = []
    for column, field in TRACKED.items():
        old, new, current = (pl.col(f"{s}_{column}") for s in ("old", "new", "now"))
        changed = old.ne_missing(new)
        restored.append(
            pl.when(changed & current.eq_missing(new)).then(old).otherwise(current).alias(column)
        )
        conflicts.append(
            compared.filter(changed & current.ne_missing(new)).select(
                customer_id="now_customer_id",
                field=pl.lit(field),
                reason=pl.format("card {}: changed again since the import", "number"),
            )
        )
    back = compared.with_columns(restored)
    label_back = pl.col("status_label").eq_missing(pl.col("old_status_label"))
    repository.write_cards(
        conn,
        ctx.org_id,
        back.select(
            id="card_id",
            status=pl.when(label_back).then("old_status").otherwise("now_status"),
            status_label="status_label",
            unit_id="unit_id",
            external_id="external_id",
        ),
    )
    linked = compared.filter(pl.col("identifier_id").is_not_null())
    still = pl.col("now_customer_id").eq_missing(pl.col("holder_id"))
    unlink = linked.filter(still)
    _remove_identifiers(conn, ctx, unlink)
    repository.write_cards(
        conn,
        ctx.org_id,
        unlink.select(
            id="card_id",
            customer_id="old_customer_id",
            issued_at="old_issued_at",
            expires_at="old_expires_at",
        ),
    )
    conflicts.append(
        linked.filter(~still).select(
            customer_id="now_customer_id",
            field=pl.lit("customer"),
            reason=pl.format("card {}: its holder changed since the import", "number"),
        )
    )
    return pl.concat(conflicts)


def _remove_identifiers(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    added = frame.filter(pl.col("identifier_id").is_not_null())
    if added.is_empty():
        return
    repository.delete_identifiers(conn, ctx.org_id, added["identifier_id"])
    log_changes(
        conn,
        ctx,
        _identifier_log(added, "holder_id", "number", add=False),
        "IDENTIFIER",
        undo=True,
    )


PROFILE = Cards()
