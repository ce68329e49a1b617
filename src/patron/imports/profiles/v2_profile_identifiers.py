"""V2 Profile Identifier Add/Update: put identifiers on customers' per-source profiles.

A row names a customer (user id), a source and account (e.g. ``WEB_ENGAGE`` /
``2024ba96``) and an identifier (type and value). The identifier goes on the
customer's profile for that source and account, created when missing. The rules
are those of ``changeIdentifier``:

* held by the customer already: nothing to do (skipped);
* held by nobody: added; when the profile (for mobile, email and external id: the
  customer) already has one of that type, it is replaced only with the template's
  ``allow_updating_existing_identifier``, otherwise the row is rejected;
* held by another customer on another source: the two are one person and are
  merged, the row's customer being the victim and the holder the survivor;
  held on the same source, or both having a profile on some other same source,
  is a conflict (the row is rejected).

Everything but the merges is written set-based. A merge moves rows of many
tables for one pair of customers, so each merging row is one call of the profile
store's merge (merges are the exception in a file, and each is recorded so undo
can reverse it).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.customer.tables import customers, identifiers, profiles
from patron.identity.merge import merge, unmerge
from patron.identity.types import IDENTIFIER_TYPES, MULTI_ACCOUNT_SOURCES, Source
from patron.imports import columns
from patron.imports.changelog import cause, log_changes
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_key, customer_states, find_customers, reject_fraud
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, OptionSpec, Plan, ProfileSpec
from patron.imports.rowcheck import Checks, add_errors
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame, next_ids

#: Identifiers a customer holds once, whatever the profile (the profile store's rule).
SINGLE_VALUED = ("mobile", "email", "externalId")
#: Change-log types of identifier changes, as ``changeIdentifier`` writes them.
CHANGE_TYPES = {"mobile": "MOBILE", "email": "EMAIL", "externalId": "EXTERNAL_ID"}
#: A source as people write it (case, spaces, dashes and underscores aside) -> the source.
_SOURCE_SPELLINGS = {source.value.replace("_", "").lower(): source.value for source in Source}
_TYPE_SPELLINGS = {kind.lower(): kind for kind in IDENTIFIER_TYPES} | {"card": "cardnumber"}

FIELDS = (
    FieldSpec("user_id", "User ID", "patron's customer id.", ("user id", "userid"), "integer"),
    FieldSpec(
        "source",
        "Source",
        "The source of the profile: INSTORE, WEB_ENGAGE, WECHAT, FACEBOOK, MOBILE_APP, LINE, ...",
        ("source", "channel source", "profile source"),
    ),
    FieldSpec(
        "account_id",
        "Account ID",
        "The account on that source (required for WECHAT, FACEBOOK, WEB_ENGAGE, MOBILE_APP, LINE).",
        ("account id", "accountid", "account"),
    ),
    FieldSpec(
        "identifier_type",
        "Identifier Type",
        "mobile, email, externalId, wechat, unionId, cuid, fbId, line, mobilePush, ...",
        ("identifier type", "type", "id type"),
    ),
    FieldSpec(
        "identifier_value",
        "Identifier Value",
        "The identifier, normalized by its type's rule (a mobile gets the org's rules).",
        ("identifier value", "value", "identifier"),
    ),
)
ALLOW_UPDATE = OptionSpec(
    "allow_updating_existing_identifier",
    "bool",
    False,
    "Replace an identifier of the same type that the profile (for mobile, email and external "
    "id: the customer) already has; otherwise such a row is rejected.",
)
SPEC = ProfileSpec(
    id="v2-profile-identifiers",
    name="V2 Profile Identifier Add/Update",
    fields=FIELDS,
    options=(ALLOW_UPDATE,),
)
IDENTIFIER_ROW = {
    "customer_id": pl.Int64,
    "profile_id": pl.Int64,
    "type": pl.String,
    "value": pl.String,
}


class V2ProfileIdentifiers:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("added", "removed", "profiles", "merges")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        return [spec.name for spec in FIELDS if spec.name not in mapped]

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan:
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        customer_key(checks, ctx, "user_id")
        _source_rule(checks)
        _account_rule(checks)
        _type_rule(checks)
        _value_rule(checks, ctx)
        rows = checks.result().with_columns(
            _identifier=pl.format("{} {}", "identifier_type", "identifier_value"),
            _target=pl.format(
                "{} on {}/{} of user {}", "identifier_type", "source", "account_id", "user_id"
            ),
        )
        rows = reject_duplicates(
            rows, ctx, "_identifier", RowCode.V2_DUPLICATE_IDENTIFIER_IN_FILE, "identifier"
        )
        rows = reject_duplicates(
            rows, ctx, "_target", RowCode.V2_DUPLICATE_TARGET_IN_FILE, "identifier type"
        )
        rows = find_customers(conn, rows, ctx, "user_id").drop("_identifier", "_target")
        rows = _decide(conn, ctx, rows)
        return Plan(rows=rows.drop("_existing_ids"), data=rows)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        rows: pl.DataFrame = plan.data
        acting = rows.filter(pl.col("status") == "update")
        writes = acting.filter(pl.col("action") != "merge")
        created = _create_profiles(conn, ctx, writes)
        writes = writes.join(
            created.select("customer_id", "source", "account_id", new_profile="profile_id"),
            on=["customer_id", "source", "account_id"],
            how="left",
        ).with_columns(profile_id=pl.coalesce("profile_id", "new_profile"))
        removed = _removed(conn, ctx, writes)
        _delete_identifiers(conn, ctx, removed)
        added = writes.select(
            "customer_id", "profile_id", type="identifier_type", value="identifier_value"
        )
        insert_frame(conn, identifiers, added.with_columns(org_id=pl.lit(ctx.org_id, pl.Int64)))
        _log(conn, ctx, writes, removed)
        merges = _merge(conn, ctx, acting.filter(pl.col("action") == "merge"))
        final = rows.drop("_existing_ids").with_columns(
            customer_id=pl.when(pl.col("action") == "merge")
            .then(pl.col("owner_id"))
            .otherwise(pl.col("customer_id"))
        )
        undo_data = {
            "added": added,
            "removed": removed,
            "profiles": created.select("profile_id"),
            "merges": merges,
        }
        return final, undo_data

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        conflicts = [_unmerge(conn, ctx, data["merges"])]
        conflicts.append(_remove_added(conn, ctx, data["added"]))
        conflicts.append(_restore_removed(conn, ctx, data["removed"]))
        _delete_empty_profiles(conn, ctx, data["profiles"]["profile_id"])
        return pl.concat(conflicts)


# --- validation -----------------------------------------------------------------------


def _source_rule(checks: Checks) -> None:
    text = checks.raw("source").str.strip_chars()
    spelled = text.str.replace_all(r"[\s_\-]", "").str.to_lowercase()
    source = spelled.replace_strict(_SOURCE_SPELLINGS, default=None, return_dtype=pl.String)
    checks.frame = checks.frame.with_columns(source=source)
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.V2_SOURCE_UNKNOWN, pl.lit("the source is empty"))
    checks.error(
        ~empty & pl.col("source").is_null(),
        RowCode.V2_SOURCE_UNKNOWN,
        pl.format(
            "unknown source '{}'; sources: {}", text, pl.lit(", ".join(s.value for s in Source))
        ),
    )
    checks.correction(
        pl.col("source").is_not_null() & (text != pl.col("source")),
        pl.format("{}: source {} read as {}", pl.lit(checks.ctx.column("source")), text, "source"),
    )


def _account_rule(checks: Checks) -> None:
    checks.rule(
        "account_id",
        columns.plain_identifier(pl.col("account_id"), max_length=100),
        RowCode.V2_ACCOUNT_ID_INVALID,
        "invalid account id",
    )
    needs = pl.col("source").is_in([source.value for source in MULTI_ACCOUNT_SOURCES])
    blank = checks.raw("account_id").str.strip_chars().fill_null("") == ""
    checks.error(
        needs & blank,
        RowCode.V2_ACCOUNT_ID_MISSING,
        pl.format("source {} needs an account id", "source"),
    )
    checks.frame = checks.frame.with_columns(pl.col("account_id").fill_null(""))


def _type_rule(checks: Checks) -> None:
    text = checks.raw("identifier_type").str.strip_chars()
    kind = text.str.to_lowercase().replace_strict(_TYPE_SPELLINGS, default=None)
    checks.frame = checks.frame.with_columns(identifier_type=kind)
    empty = text.is_null() | (text == "")
    checks.error(
        empty | pl.col("identifier_type").is_null(),
        RowCode.V2_IDENTIFIER_TYPE_UNKNOWN,
        pl.format(
            "unknown identifier type '{}'; types: {}",
            text.fill_null(""),
            pl.lit(", ".join(IDENTIFIER_TYPES)),
        ),
    )
    checks.error(
        pl.col("identifier_type") == "cardnumber",
        RowCode.V2_CARD_NUMBER,
        pl.lit("card numbers are issued with the Card Import profile, which links the card too"),
    )
    checks.correction(
        pl.col("identifier_type").is_not_null() & (checks.raw("identifier_type") != text),
        pl.lit(f"{checks.ctx.column('identifier_type')}: whitespace trimmed"),
    )


def _value_rule(checks: Checks, ctx: ImportContext) -> None:
    """The rule of each row's identifier type: mobile, email, external id, or plain."""
    value = pl.col("identifier_value")
    kind = pl.col("identifier_type")
    by_type = {
        "mobile": columns.mobile(value, ctx.mobile_rules),
        "email": columns.email(value),
        "externalId": columns.external_id(value),
    }
    plain = columns.plain_identifier(value)

    def pick(part: str) -> pl.Expr:
        chosen: Any = pl.when(kind == "mobile").then(by_type["mobile"].struct.field(part))
        for name in ("email", "externalId"):
            chosen = chosen.when(kind == name).then(by_type[name].struct.field(part))
        picked: pl.Expr = chosen.otherwise(plain.struct.field(part))
        return picked

    checked = pl.struct(
        value=pick("value"), corrections=pick("corrections"), problem=pick("problem")
    )
    checks.rule(
        "identifier_value", checked, RowCode.V2_IDENTIFIER_VALUE_INVALID, "invalid identifier"
    )
    raw = checks.raw("identifier_value").str.strip_chars()
    checks.error(
        raw.is_null() | (raw == ""),
        RowCode.V2_IDENTIFIER_VALUE_INVALID,
        pl.lit("the identifier value is empty"),
    )


# --- matching against the store -----------------------------------------------------------


def _decide(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """Each row's action (skip, add, replace, merge) and status, from what the store holds."""
    valid = rows.filter(pl.col("error_codes").list.len() == 0)
    owners = _owners(conn, ctx, valid)
    rows = rows.join(owners, on="row", how="left", maintain_order="left")
    involved = pl.concat([rows["customer_id"], rows["owner_id"]]).drop_nulls().unique()
    held = _profiles(conn, ctx, involved)
    rows = rows.join(
        held.select("customer_id", "source", "account_id", profile_id="profile_id"),
        on=["customer_id", "source", "account_id"],
        how="left",
        maintain_order="left",
    )
    states = customer_states(conn, ctx, involved)
    rows = reject_fraud(rows, states)
    rows = rows.join(
        states.select(owner_id="customer_id", _owner_fraud="fraud_status"),
        on="owner_id",
        how="left",
        maintain_order="left",
    )
    other = pl.col("owner_id").is_not_null() & (pl.col("owner_id") != pl.col("customer_id"))
    rows = _merge_checks(rows, held, other)
    rows = _existing(conn, ctx, rows)
    allow = bool(ctx.options["allow_updating_existing_identifier"])
    clash = ~other & pl.col("owner_id").is_null() & (pl.col("_existing_ids").list.len() > 0)
    rows = add_errors(
        rows,
        rows.filter(clash & pl.lit(not allow)).select(
            "row",
            message=pl.format(
                "the customer (id {}) already has {} {}: set "
                "allow_updating_existing_identifier to replace it",
                "customer_id",
                "identifier_type",
                pl.col("_existing_values").list.join(", "),
            ),
        ),
        RowCode.V2_EXISTING_IDENTIFIER,
    )
    rejected = pl.col("error_codes").list.len() > 0
    action = (
        pl.when(rejected)
        .then(pl.lit(None, pl.String))
        .when(pl.col("owner_id") == pl.col("customer_id"))
        .then(pl.lit("skip"))
        .when(other)
        .then(pl.lit("merge"))
        .when(clash)
        .then(pl.lit("replace"))
        .otherwise(pl.lit("add"))
    )
    rows = rows.with_columns(action=action)
    return rows.with_columns(
        status=pl.when(rejected)
        .then(pl.lit("reject"))
        .when(pl.col("action") == "skip")
        .then(pl.lit("skip"))
        .otherwise(pl.lit("update"))
    ).drop("_owner_fraud", "_existing_values")


def _owners(conn: Connection, ctx: ImportContext, valid: pl.DataFrame) -> pl.DataFrame:
    """(row, owner_id, owner_source, owner_account) of the rows whose identifier is held."""
    wanted = valid.select(type="identifier_type", value="identifier_value").unique()
    create_temp_table(conn, "import_values", {"type": "VARCHAR(32)", "value": "VARCHAR(255)"})
    insert_frame(conn, "import_values", wanted)
    staged = sa.table("import_values", sa.column("type"), sa.column("value"))
    found = fetch_frame(
        conn,
        sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id).join(
            staged,
            sa.and_(
                identifiers.c.org_id == ctx.org_id,
                identifiers.c.type == staged.c.type,
                identifiers.c.value == staged.c.value,
            ),
        ),
        {"identifier_type": pl.String, "identifier_value": pl.String, "owner_id": pl.Int64},
    )
    return (
        valid.select("row", "identifier_type", "identifier_value")
        .join(found, on=["identifier_type", "identifier_value"])
        .select("row", "owner_id")
    )


def _profiles(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_customer_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(
            profiles.c.customer_id, profiles.c.source, profiles.c.account_id, profiles.c.id
        ).where(profiles.c.org_id == ctx.org_id, profiles.c.customer_id.in_(staged)),
        {
            "customer_id": pl.Int64,
            "source": pl.String,
            "account_id": pl.String,
            "profile_id": pl.Int64,
        },
    )


def _merge_checks(rows: pl.DataFrame, held: pl.DataFrame, other: pl.Expr) -> pl.DataFrame:
    """Held by another customer: conflicts (8007, 8066, fraud) and merges crossing in the file."""
    keys = ["source", "account_id"]
    theirs = held.select(owner_id="customer_id", source="source", account_id="account_id")
    same_source = rows.filter(other).join(theirs, on=["owner_id", *keys], how="semi").select(
        "row",
        message=pl.format(
            "{} {} is held by customer {} on the same source", "identifier_type",
            "identifier_value", "owner_id",
        ),
    )  # fmt: skip
    rows = add_errors(rows, same_source, RowCode.V2_HELD_ON_SAME_SOURCE)
    mine = held.select("customer_id", *keys)
    shared = (
        rows.filter(other)
        .select("row", "customer_id", "owner_id")
        .join(mine, on="customer_id")
        .join(theirs, on=["owner_id", *keys])
        .unique("row")
        .select(
            "row",
            message=pl.format(
                "customer {} and customer {} both have a profile on {}: they cannot be merged",
                "customer_id",
                "owner_id",
                "source",
            ),
        )
    )
    rows = add_errors(rows, shared, RowCode.V2_SHARED_SOURCE)
    fraud = rows.filter(
        other & pl.col("_owner_fraud").is_in(["MARKED", "CONFIRMED", "RECONFIRMED"])
    )
    rows = add_errors(
        rows,
        fraud.select(
            "row", message=pl.format("the holder (customer {}) is marked as fraud", "owner_id")
        ),
        RowCode.CUSTOMER_FRAUD,
    )
    # A customer merged by one row cannot be touched by another row of the same file.
    merging = rows.filter(other & (pl.col("error_codes").list.len() == 0))
    touched = pl.concat(
        [
            merging.select(customer=pl.col("customer_id")),
            merging.select(customer=pl.col("owner_id")),
        ]
    ).unique()
    crossing = (
        pl.concat(
            [
                rows.select("row", customer=pl.col("customer_id")),
                rows.filter(other).select("row", customer=pl.col("owner_id")),
            ]
        )
        .join(touched, on="customer")
        .with_columns(rows_touching=pl.col("row").n_unique().over("customer"))
        .filter(pl.col("rows_touching") > 1)
        .unique("row")
        .select(
            "row",
            message=pl.format(
                "customer {} is merged by this file; import its other rows separately", "customer"
            ),
        )
    )
    return add_errors(rows, crossing, RowCode.V2_MERGE_CROSSES_ROWS)


def _existing(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The identifiers of the row's type the target already has (ids and values)."""
    ids = rows["customer_id"].drop_nulls().unique()
    create_temp_table(conn, "import_customer_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_customer_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_customer_ids", sa.column("id")).c.id)
    stored = fetch_frame(
        conn,
        sa.select(
            identifiers.c.id,
            identifiers.c.customer_id,
            identifiers.c.profile_id,
            identifiers.c.type,
            identifiers.c.value,
        ).where(identifiers.c.org_id == ctx.org_id, identifiers.c.customer_id.in_(staged)),
        {
            "id": pl.Int64,
            "customer_id": pl.Int64,
            "_profile": pl.Int64,
            "identifier_type": pl.String,
            "_value": pl.String,
        },
    )
    single = pl.col("identifier_type").is_in(SINGLE_VALUED)
    matches = (
        rows.select("row", "customer_id", "profile_id", "identifier_type")
        .join(stored, on=["customer_id", "identifier_type"])
        .filter(single | (pl.col("_profile") == pl.col("profile_id")))
        .group_by("row")
        .agg(_existing_ids=pl.col("id"), _existing_values=pl.col("_value").sort())
    )
    rows = rows.join(matches, on="row", how="left", maintain_order="left")
    return rows.with_columns(
        _existing_ids=pl.col("_existing_ids").fill_null(pl.lit([], pl.List(pl.Int64))),
        _existing_values=pl.col("_existing_values").fill_null(pl.lit([], pl.List(pl.String))),
    )


# --- writing ----------------------------------------------------------------------------


def _create_profiles(conn: Connection, ctx: ImportContext, writes: pl.DataFrame) -> pl.DataFrame:
    """The missing (customer, source, account) profiles, inserted; answers them with ids."""
    missing = (
        writes.filter(pl.col("profile_id").is_null())
        .select("customer_id", "source", "account_id")
        .unique(maintain_order=True)
    )
    missing = missing.with_columns(profile_id=next_ids(conn, profiles, missing.height))
    actor = pl.lit(ctx.actor_name)
    insert_frame(
        conn,
        profiles,
        missing.select(
            id="profile_id",
            org_id=pl.lit(ctx.org_id, pl.Int64),
            customer_id="customer_id",
            source="source",
            account_id="account_id",
            created_by=actor,
            modified_by=actor,
        ),
    )
    return missing


def _removed(conn: Connection, ctx: ImportContext, writes: pl.DataFrame) -> pl.DataFrame:
    """The identifiers the replacing rows take the place of (whole rows, for undo)."""
    ids = writes.filter(pl.col("action") == "replace")["_existing_ids"].explode().drop_nulls()
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(
            identifiers.c.customer_id,
            identifiers.c.profile_id,
            identifiers.c.type,
            identifiers.c.value,
        ).where(identifiers.c.org_id == ctx.org_id, identifiers.c.id.in_(staged)),
        IDENTIFIER_ROW,
    )


def _delete_identifiers(conn: Connection, ctx: ImportContext, frame: pl.DataFrame) -> None:
    """Delete (org, type, value) identifiers, held by the frame's customers, in one statement."""
    if frame.is_empty():
        return
    create_temp_table(
        conn,
        "import_values",
        {"type": "VARCHAR(32)", "value": "VARCHAR(255)", "customer_id": "BIGINT"},
    )
    insert_frame(conn, "import_values", frame.select("type", "value", "customer_id"))
    staged = sa.table(
        "import_values", sa.column("type"), sa.column("value"), sa.column("customer_id")
    )
    conn.execute(
        identifiers.delete().where(
            identifiers.c.org_id == ctx.org_id,
            sa.exists().where(
                staged.c.type == identifiers.c.type,
                staged.c.value == identifiers.c.value,
                staged.c.customer_id == identifiers.c.customer_id,
            ),
        )
    )


def _log(conn: Connection, ctx: ImportContext, writes: pl.DataFrame, removed: pl.DataFrame) -> None:
    """One change-log entry per row, as changeIdentifier writes them: what was added and
    what it replaced, under MOBILE, EMAIL, EXTERNAL_ID or IDENTIFIER."""
    olds = (
        removed.join(
            writes.select("row", "customer_id", type="identifier_type"), on=["customer_id", "type"]
        )
        .group_by("row")
        .agg(_old=pl.struct(type=_shown(pl.col("type")), value="value"))
    )
    entry = pl.Struct({"type": pl.String, "value": pl.String})
    entries = writes.join(olds, on="row", how="left").with_columns(
        change_type=pl.col("identifier_type").replace_strict(CHANGE_TYPES, default="IDENTIFIER"),
        details=pl.struct(
            add=pl.concat_list(
                pl.struct(type=_shown(pl.col("identifier_type")), value="identifier_value")
            ),
            remove=pl.col("_old").fill_null(pl.lit([], pl.List(entry))),
        ),
    )
    for (change_type,), group in entries.group_by("change_type"):
        log_changes(
            conn,
            ctx,
            group.select("customer_id", "details", "source", "account_id"),
            str(change_type),
        )


def _shown(kind: pl.Expr) -> pl.Expr:
    """An identifier type as the change log names it: MOBILE, EMAIL, EXTERNAL_ID, or itself."""
    return kind.replace_strict(CHANGE_TYPES, default=kind)


def _merge(conn: Connection, ctx: ImportContext, merging: pl.DataFrame) -> pl.DataFrame:
    """Merge each merging row's customer into the holder; answers the merge ids."""
    actor = Actor(org_id=ctx.org_id, role=Role.admin, name=ctx.actor_name, kind="import")
    merged = [
        merge(conn, actor, victim_id=victim, survivor_id=survivor, cause=cause(ctx))
        for victim, survivor in merging.select("customer_id", "owner_id").iter_rows()
    ]
    return pl.DataFrame({"merge_id": merged}, schema={"merge_id": pl.Int64})


# --- undo -------------------------------------------------------------------------------

CONFLICTS = {"customer_id": pl.Int64, "field": pl.String, "reason": pl.String}


def _unmerge(conn: Connection, ctx: ImportContext, merges: pl.DataFrame) -> pl.DataFrame:
    """Reverse the import's merges, newest first; one that cannot be is a conflict."""
    actor = Actor(org_id=ctx.org_id, role=Role.admin, name=ctx.actor_name, kind="import")
    conflicts = []
    for merge_id in reversed(merges["merge_id"].to_list()):
        why = unmerge(conn, actor, merge_id, cause=cause(ctx, undo=True))
        if why is not None:
            conflicts.append(
                {"customer_id": None, "field": "merge", "reason": f"merge {merge_id}: {why}"}
            )
    return pl.DataFrame(conflicts, schema=CONFLICTS)


def _remove_added(conn: Connection, ctx: ImportContext, added: pl.DataFrame) -> pl.DataFrame:
    """Delete the identifiers the import added, where they are still where it put them."""
    now = _stored(conn, ctx, added)
    still = added.join(now, on=["type", "value", "customer_id"], how="semi")
    _delete_identifiers(conn, ctx, still)
    gone = added.join(now, on=["type", "value", "customer_id"], how="anti")
    return gone.select(
        "customer_id",
        field="type",
        reason=pl.format("{} {} was removed or moved since the import", "type", "value"),
    )


def _restore_removed(conn: Connection, ctx: ImportContext, removed: pl.DataFrame) -> pl.DataFrame:
    """Put back the identifiers the import replaced, unless their value was taken since."""
    taken = _stored(conn, ctx, removed.select("type", "value", "customer_id"), by_value=True)
    free = removed.join(taken, on=["type", "value"], how="anti")
    live = _live_profiles(conn, ctx, free["profile_id"])
    restorable = free.join(live, on="profile_id", how="semi")
    insert_frame(conn, identifiers, restorable.with_columns(org_id=pl.lit(ctx.org_id, pl.Int64)))
    lost = removed.join(restorable, on=["type", "value"], how="anti")
    return lost.select(
        "customer_id",
        field="type",
        reason=pl.format("{} {} is held by someone else since the import", "type", "value"),
    )


def _stored(
    conn: Connection, ctx: ImportContext, frame: pl.DataFrame, *, by_value: bool = False
) -> pl.DataFrame:
    """Which (type, value) of ``frame`` are stored now, with their holder."""
    create_temp_table(conn, "import_values", {"type": "VARCHAR(32)", "value": "VARCHAR(255)"})
    insert_frame(conn, "import_values", frame.select("type", "value").unique())
    staged = sa.table("import_values", sa.column("type"), sa.column("value"))
    found = fetch_frame(
        conn,
        sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id).join(
            staged,
            sa.and_(
                identifiers.c.org_id == ctx.org_id,
                identifiers.c.type == staged.c.type,
                identifiers.c.value == staged.c.value,
            ),
        ),
        {"type": pl.String, "value": pl.String, "customer_id": pl.Int64},
    )
    return found.drop("customer_id") if by_value else found


def _live_profiles(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids.unique()}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(profiles.c.id)
        .join(customers, customers.c.id == profiles.c.customer_id)
        .where(
            profiles.c.org_id == ctx.org_id,
            profiles.c.id.in_(staged),
            customers.c.deleted_at.is_(None),
        ),
        {"profile_id": pl.Int64},
    )


def _delete_empty_profiles(conn: Connection, ctx: ImportContext, ids: pl.Series) -> None:
    """Profiles the import created go again, unless something was put on them since."""
    if ids.is_empty():
        return
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    used = sa.select(identifiers.c.profile_id).where(identifiers.c.org_id == ctx.org_id)
    conn.execute(
        profiles.delete().where(
            profiles.c.org_id == ctx.org_id,
            profiles.c.id.in_(staged),
            profiles.c.id.not_in(used),
            profiles.c.first_name == "",
            profiles.c.last_name == "",
        )
    )


PROFILE = V2ProfileIdentifiers()
