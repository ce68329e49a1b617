"""Generating the card numbers of a series: prefix, random digits, suffix.

A batch is drawn at once in polars: each block of 9 digits is a keyed hash of
the row index modulo 10^9, the keys drawn from :mod:`secrets` for every batch,
so numbers are neither sequential nor predictable from earlier ones. Numbers
already used in the org (as cards or as ``cardnumber`` identifiers) are
dropped with one set-based query, the rest inserted at once; a few rounds top
up what collisions took away.
"""

from __future__ import annotations

import secrets

import polars as pl
from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.cards import bulk_repository, repository, rules, service
from patron.codes import cards
from patron.kit.errors import Conflict, InvalidInput

#: The most cards one request generates.
MAX_GENERATE = 100_000
_BLOCK = 9
_ROUNDS = 20


def generate(
    conn: Connection,
    actor: Actor,
    *,
    series_id: int | None = None,
    series_code: str | None = None,
    count: int,
    status_label: str | None = None,
) -> list[str]:
    """``count`` new cards of a generation-enabled series; answers their numbers."""
    series = service.require_series(conn, actor.org_id, series_id=series_id, code=series_code)
    code = series["code"]
    if not 1 <= count <= MAX_GENERATE:
        raise InvalidInput(
            cards.GENERATION_REFUSED, f"the count must be between 1 and {MAX_GENERATE}"
        )
    if not series["generation_enabled"]:
        raise InvalidInput(
            cards.GENERATION_REFUSED, f"card series {code} does not generate its card numbers"
        )
    prefix, suffix, length = series["prefix"], series["suffix"], series["length"]
    problem = rules.shape_problem(prefix, suffix, length, True)
    if problem is not None:
        raise InvalidInput(cards.GENERATION_REFUSED, f"card series {code}: {problem}")
    digits = int(length) - len(prefix) - len(suffix)
    free = 10**digits - repository.count_cards(conn, actor.org_id, int(series["id"]))
    if count > free:
        raise Conflict(
            cards.NUMBERS_EXHAUSTED,
            f"card series {code} has room for {max(free, 0)} more card numbers, not {count}",
        )
    label = service.require_label(conn, actor.org_id, status_label or rules.GENERATED_STATUS)
    numbers = _fresh_numbers(conn, actor.org_id, prefix, suffix, digits, count)
    if numbers.len() < count:
        raise Conflict(
            cards.NUMBERS_EXHAUSTED,
            f"card series {code}: only {numbers.len()} unused numbers found; the series is "
            "nearly full",
        )
    bulk_repository.insert_cards(
        conn,
        pl.DataFrame({"number": numbers}).select(
            org_id=pl.lit(actor.org_id, dtype=pl.Int64),
            series_id=pl.lit(int(series["id"]), dtype=pl.Int64),
            number="number",
            status=pl.lit(label.system_status),
            status_label=pl.lit(label.label),
            unit_id=pl.lit(series["unit_id"], dtype=pl.Int64),
        ),
    )
    audit(conn, actor, "card.generate", "card_series", series["id"], {"count": count})
    return numbers.to_list()


def random_numbers(prefix: str, suffix: str, digits: int, count: int) -> pl.Series:
    """``count`` candidate numbers (possibly repeating): prefix, ``digits`` digits, suffix."""
    blocks = []
    for block in range(-(-digits // _BLOCK)):
        # A random starting point and a random seed: 127 bits of key per block.
        start = secrets.randbits(63)
        index = pl.int_range(start, start + count, dtype=pl.UInt64, eager=True)
        hashed = index.hash(seed=secrets.randbits(64)) % (10**_BLOCK)
        blocks.append(hashed.cast(pl.String).str.zfill(_BLOCK).alias(str(block)))
    middle = pl.DataFrame(blocks).select(pl.concat_str(pl.all()).str.slice(-digits)).to_series()
    return (prefix + middle + suffix).alias("number")


def _fresh_numbers(
    conn: Connection, org_id: int, prefix: str, suffix: str, digits: int, count: int
) -> pl.Series:
    chosen = pl.Series("number", [], dtype=pl.String)
    for _ in range(_ROUNDS):
        wanted = count - chosen.len()
        if wanted <= 0:
            break
        drawn = random_numbers(prefix, suffix, digits, wanted + wanted // 10 + 8).unique()
        drawn = drawn.filter(~drawn.is_in(chosen.implode()))
        taken = bulk_repository.taken_numbers(conn, org_id, drawn)
        drawn = drawn.filter(~drawn.is_in(taken.implode()))
        chosen = pl.concat([chosen, drawn.head(wanted)])
    return chosen
