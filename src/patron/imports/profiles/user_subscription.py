"""User Subscription: opt customers in to or out of channels, many at once.

A row names a customer by the identifier the template chooses (only identifiers
registered in the org: an unknown one is an error, never a new customer), a
channel (line, mobile, email, whatsapp, ios, android, postmail, mobilePush;
``SMS`` is read as mobile), a priority (TRANS, BULK) and a status (OPTIN,
OPTOUT), optionally an org unit or concept code and an account name. The rules
are the Subscriptions API's: an opt-in of a customer marked as fraud is refused,
an opt-out never is; every change is kept in the consent ledger with the import
as its origin. A row that repeats the recorded status changes nothing (skipped).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.lookup import ACCOUNT_ID_MAX_LENGTH
from patron.imports import columns
from patron.imports.changelog import cause
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.customers import customer_key, customer_states, find_customers, key_option
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, OptionSpec, Plan, ProfileSpec
from patron.imports.profiles.customer_status import CUSTOMER_FIELDS
from patron.imports.rowcheck import Checks, add_errors, has_errors, row_status
from patron.kit.bulk import fetch_frame
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES
from patron.orgs.tables import org_units
from patron.subscriptions import service as subscriptions
from patron.subscriptions.service import (
    ACCOUNT_SOURCES,
    DEFAULT_SOURCE,
    IMPORT_CHANNELS,
    KEY,
    ORG_WIDE,
    PRIORITIES,
    STATUSES,
)

#: The channel names a file may use, as the seed spells them.
CHANNEL_NAMES = ("line", "mobile", "email", "whatsapp", "ios", "android", "postmail", "mobilePush")
#: Org unit kinds, in the order a code shared by several units is read.
UNIT_KINDS = ("concept", "store", "till")
FIELDS = (
    FieldSpec(
        "account_name",
        "Account Name",
        "The channel's account, for channels with several accounts (line, mobilePush, ios, "
        "android).",
        ("account", "account id", "account name"),
    ),
    FieldSpec(
        "org_unit",
        "Org Unit or Concept Code",
        "The concept or org unit the subscription is for; empty: the whole org.",
        ("org unit", "concept code", "org unit code", "concept", "unit code"),
    ),
    FieldSpec(
        "channel",
        "Comm Channel",
        f"The channel: {', '.join(CHANNEL_NAMES)} (any letter case; SMS is read as mobile).",
        ("channel", "comm channel", "communication channel"),
    ),
    FieldSpec(
        "priority",
        "Priority",
        "The kind of message: TRANS (transactional) or BULK (promotional).",
        ("message type", "message priority"),
    ),
    FieldSpec(
        "subscription_status",
        "Sub Status",
        "The new status of the channel: OPTIN or OPTOUT.",
        ("subscription status", "sub status", "status", "subscription", "opt in"),
    ),
    *CUSTOMER_FIELDS,
)
APPEND_COUNTRY_CODE = OptionSpec(
    "append_country_code",
    "bool",
    False,
    "National mobile numbers get the org's base country code.",
)
SPEC = ProfileSpec(
    id="user-subscription",
    name="User Subscription",
    fields=FIELDS,
    options=(key_option(), APPEND_COUNTRY_CODE),
)


class UserSubscription:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("changes",)

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        wanted = [options["unique_identifier"], "channel", "priority", "subscription_status"]
        return [name for name in wanted if name not in mapped]

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[pl.DataFrame]:
        key = ctx.options["unique_identifier"]
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        customer_key(checks, ctx, key)
        _channel_rule(checks, ctx)
        _choice_rule(checks, "priority", PRIORITIES, RowCode.PRIORITY_INVALID, "priority")
        _choice_rule(
            checks,
            "subscription_status",
            STATUSES,
            RowCode.SUBSCRIPTION_STATUS_INVALID,
            "subscription status",
        )
        _org_unit_rule(conn, checks, ctx)
        _account_rule(checks)
        rows = find_customers(conn, checks.result(), ctx, key)
        rows = _reject_shared_subscriptions(rows, ctx)
        rows = _reject_fraud_opt_ins(rows, customer_states(conn, ctx, rows["customer_id"]))
        keys = rows.filter(~has_errors()).select(KEY).unique()
        rows = rows.join(
            subscriptions.statuses_of(conn, ctx.org_id, keys).rename({"status": "before"}),
            on=list(KEY),
            how="left",
            maintain_order="left",
        )
        unchanged = pl.col("subscription_status") == pl.col("before")
        rows = rows.with_columns(status=row_status(unchanged))
        changes = rows.filter(pl.col("status") == "update").select(
            *KEY, status="subscription_status", previous_status="before"
        )
        return Plan(rows=rows, data=changes)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[pl.DataFrame]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        changes: pl.DataFrame = plan.data
        subscriptions.record_many(
            conn, ctx.org_id, changes, actor=ctx.actor_name, origin=cause(ctx)
        )
        return plan.rows, {"changes": changes}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        changes = data["changes"]
        now = subscriptions.statuses_of(conn, ctx.org_id, changes.select(KEY))
        compared = changes.join(now.rename({"status": "now"}), on=list(KEY), how="left")
        moved = pl.col("now").ne_missing(pl.col("status"))
        subscriptions.restore_many(
            conn,
            ctx.org_id,
            compared.filter(~moved).drop("now"),
            actor=ctx.actor_name,
            origin=cause(ctx, undo=True),
            reason=f"undo of import {ctx.import_id}",
        )
        return compared.filter(moved).select(
            "customer_id",
            field=pl.format("subscription {}/{}", "channel", "priority"),
            reason=pl.lit("the subscription changed again since the import"),
        )


def _channel_rule(checks: Checks, ctx: ImportContext) -> None:
    """``channel``: a channel of the seed's list, as stored (``mobile`` -> ``SMS``)."""
    text = checks.raw("channel").str.strip_chars()
    lowered = text.str.to_lowercase()
    checks.frame = checks.frame.with_columns(
        channel=lowered.replace_strict(
            {**IMPORT_CHANNELS, "sms": IMPORT_CHANNELS["mobile"]},
            default=None,
            return_dtype=pl.String,
        )
    )
    checks.correction(
        lowered == "sms", pl.format("{}: '{}' read as mobile", pl.lit(ctx.column("channel")), text)
    )
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.CHANNEL_INVALID, pl.lit("the channel is empty"))
    checks.error(
        ~empty & pl.col("channel").is_null(),
        RowCode.CHANNEL_INVALID,
        pl.format("unknown channel '{}'; use one of {}", text, pl.lit(", ".join(CHANNEL_NAMES))),
    )


def _choice_rule(
    checks: Checks, field: str, choices: tuple[str, ...], code: int, what: str
) -> None:
    """``field``: one of ``choices``, in any letter case."""
    text = checks.raw(field).str.strip_chars()
    wanted = text.str.to_uppercase()
    checks.frame = checks.frame.with_columns(
        pl.when(wanted.is_in(choices)).then(wanted).alias(field)
    )
    empty = text.is_null() | (text == "")
    checks.error(empty, code, pl.lit(f"the {what} is empty"))
    checks.error(
        ~empty & pl.col(field).is_null(),
        code,
        pl.format(f"unknown {what} '{{}}'; use {' or '.join(choices)}", text),
    )


def _org_unit_rule(conn: Connection, checks: Checks, ctx: ImportContext) -> None:
    """``org_unit`` -> ``org_unit_id``: a unit of the org by code (any letter case), or the
    whole org when empty. A code several units share is read as the concept's, then the
    store's, then the till's."""
    rank = sa.case(
        *((org_units.c.kind == kind, index) for index, kind in enumerate(UNIT_KINDS)),
        else_=len(UNIT_KINDS),
    )
    units = (
        fetch_frame(
            conn,
            sa.select(sa.func.lower(org_units.c.code), org_units.c.id, rank).where(
                org_units.c.org_id == ctx.org_id
            ),
            {"_unit_key": pl.String, "_unit_id": pl.Int64, "_rank": pl.Int64},
        )
        .sort("_rank", "_unit_id")
        .unique("_unit_key", keep="first", maintain_order=True)
        .drop("_rank")
    )
    text = checks.raw("org_unit").str.strip_chars()
    empty = text.is_null() | (text == "")
    checks.frame = (
        checks.frame.with_columns(text.str.to_lowercase().alias("_unit_key"))
        .join(units, on="_unit_key", how="left", maintain_order="left")
        .with_columns(
            org_unit_id=pl.when(empty).then(pl.lit(ORG_WIDE, dtype=pl.Int64)).otherwise("_unit_id")
        )
        .drop("_unit_key", "_unit_id")
    )
    checks.error(
        ~empty & pl.col("org_unit_id").is_null(),
        RowCode.ORG_UNIT_UNKNOWN,
        pl.format("'{}' is not an org unit or concept of this org", text),
    )


def _account_rule(checks: Checks) -> None:
    """``account_name`` -> ``source`` and ``account_id``: an account belongs to the source
    that holds the channel's accounts; without one the subscription is the channel's own."""
    checks.rule(
        "account_name",
        columns.plain_identifier(pl.col("account_name"), max_length=ACCOUNT_ID_MAX_LENGTH),
        RowCode.ACCOUNT_NAME_INVALID,
        "invalid account name",
    )
    account = pl.col("account_name")
    holder = pl.col("channel").replace_strict(ACCOUNT_SOURCES, default=None, return_dtype=pl.String)
    checks.frame = checks.frame.with_columns(
        source=pl.when(account.is_null()).then(pl.lit(DEFAULT_SOURCE)).otherwise(holder),
        account_id=account.fill_null(""),
    )
    with_accounts = ", ".join(
        name for name in CHANNEL_NAMES if IMPORT_CHANNELS[name.lower()] in ACCOUNT_SOURCES
    )
    checks.error(
        account.is_not_null() & pl.col("channel").is_not_null() & holder.is_null(),
        RowCode.ACCOUNT_NAME_INVALID,
        pl.format(
            "the channel '{}' has no accounts: leave the account name empty "
            "(only {} have accounts)",
            checks.raw("channel").str.strip_chars(),
            pl.lit(with_accounts),
        ),
    )


def _reject_shared_subscriptions(rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Rows that set the same subscription of the same customer: all rejected."""
    unit = pl.when(pl.col("org_unit_id") != ORG_WIDE).then(
        pl.format(" at unit {}", pl.col("org_unit_id"))
    )
    account = pl.when(pl.col("account_id") != "").then(
        pl.format(" on {} account {}", pl.col("source"), pl.col("account_id"))
    )
    named = rows.with_columns(
        _subscription=pl.format(
            "{}/{}{}{} of customer {}",
            "channel",
            "priority",
            unit.fill_null(""),
            account.fill_null(""),
            "customer_id",
        )
    )
    return reject_duplicates(
        named, ctx, "_subscription", RowCode.DUPLICATE_SUBSCRIPTION_IN_FILE, "subscription"
    ).drop("_subscription")


def _reject_fraud_opt_ins(rows: pl.DataFrame, states: pl.DataFrame) -> pl.DataFrame:
    """An opt-in of a customer marked as fraud is refused (the API's 618); an opt-out never is:
    refusing it would keep messaging a person who asked to stop."""
    marked = states.filter(pl.col("fraud_status").is_in(tuple(BLOCKING_FRAUD_STATUSES)))
    hits = (
        rows.filter(pl.col("subscription_status") == "OPTIN")
        .join(marked.select("customer_id", "fraud_status"), on="customer_id")
        .select(
            "row",
            message=pl.format(
                "the customer (id {}) is marked as fraud ({}): only an opt-out is accepted",
                "customer_id",
                "fraud_status",
            ),
        )
    )
    return add_errors(rows, hits, RowCode.CUSTOMER_FRAUD)


PROFILE = UserSubscription()
