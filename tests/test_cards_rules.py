"""The card rules agree between the API path (rules.py) and the import path (columns.py)."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.cards import columns, rules

# Letters, digits, the separators card numbers use, a space, a tab, a non-ASCII letter.
TEXT = st.text(alphabet="AB01_-. \té", max_size=12)
LENGTHS = st.none() | st.integers(min_value=-2, max_value=70)


def _one(expression: pl.Expr, **values: object) -> object:
    frame = pl.DataFrame({name: [value] for name, value in values.items()})
    return frame.select(expression.alias("out"))["out"][0]


@settings(max_examples=300, deadline=None)
@given(number=TEXT, prefix=TEXT, suffix=TEXT, length=st.none() | st.integers(0, 20))
def test_misfit_agrees(number: str, prefix: str, suffix: str, length: int | None) -> None:
    expression = columns.misfit(pl.col("n"), pl.col("p"), pl.col("s"), pl.col("l"))
    got = _one(
        expression,
        n=number,
        p=prefix,
        s=suffix,
        l=pl.Series([length], dtype=pl.Int64)[0],
    )
    assert got == rules.misfit(number, prefix, suffix, length)


@settings(max_examples=300, deadline=None)
@given(prefix=TEXT, suffix=TEXT, length=LENGTHS, generates=st.booleans())
def test_shape_problem_agrees(
    prefix: str, suffix: str, length: int | None, generates: bool
) -> None:
    frame = pl.DataFrame(
        {"p": [prefix], "s": [suffix], "l": [length], "g": [generates]},
        schema={"p": pl.String, "s": pl.String, "l": pl.Int64, "g": pl.Boolean},
    )
    got = frame.select(
        columns.shape_problem(pl.col("p"), pl.col("s"), pl.col("l"), pl.col("g")).alias("out")
    )["out"][0]
    assert got == rules.shape_problem(prefix, suffix, length, generates)


@settings(max_examples=300, deadline=None)
@given(code=st.text(alphabet="AZaz09-_ é", min_size=1, max_size=60))
def test_series_code_problem_agrees(code: str) -> None:
    got = _one(columns.series_code_problem(pl.col("c")), c=code)
    assert got == rules.series_code_problem(code)


@settings(max_examples=300, deadline=None)
@given(affix=st.text(alphabet="AB1 \t\x01é", max_size=60))
def test_affix_problem_agrees(affix: str) -> None:
    got = _one(columns.affix_problem(pl.col("a"), "prefix"), a=affix)
    assert got == rules.affix_problem(affix, "prefix")


@settings(max_examples=300, deadline=None)
@given(label=st.text(alphabet="AbC _-é", max_size=20))
def test_label_key_agrees(label: str) -> None:
    assert _one(columns.label_key(pl.col("x")), x=label) == rules.label_key(label)


def test_the_seed_sample_misfit() -> None:
    assert rules.misfit("GOLDPHY2TT12311", "GOLD2", "2021", 16) == (
        "does not start with the prefix 'GOLD2'; does not end with the suffix '2021'; "
        "has 15 characters, not 16"
    )
    assert rules.misfit("GOLD212345672021", "GOLD2", "2021", 16) is None
    # Prefix and suffix may not overlap, even without a length.
    assert rules.misfit("AB", "AB", "B", None) == "is shorter than prefix and suffix together"
