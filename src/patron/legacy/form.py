"""The form fields of ``POST /api/batch``, parsed and checked into typed requests.

A form is a mapping of field names to the values sent (a name may repeat). Field
names are matched as the documentation spells them, or else in any letter case
(``Profiles_Data`` / ``profiles_data``). Every problem is an ``InvalidInput`` whose
message names the field and says what it takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from patron.codes import generic
from patron.imports import codes
from patron.imports.profiles.legacy_customers.spec import (
    MAX_GENERATED_DIGITS,
    OVERWRITE_MODES,
    PASSWORD,
    PIN,
)
from patron.imports.read import ReadLimits, SourceTable
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput

Form = Mapping[str, Sequence[str]]

BATCH_TYPES = ("customers_batch",)
DELIMITERS = {"pipe": "|", "comma": ",", "tab": "\t"}
CAMPAIGN_SEPARATOR = "|,|"
#: The header fields, as the documentation spells them.
HEADER_FIELDS = (
    "code",
    "card_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "custom_date",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "custom_field",
    "customer_username",
    PASSWORD,
    PIN,
    "auto_add",
)
#: Spellings seen in integrations written against the original documentation, whose
#: PHP example has ``custome_date``.
ALIASES = {"custome_date": "custom_date"}
SECRET_FIELDS = (PASSWORD, PIN)
#: The column the reader adds for lines with more or fewer cells than headers.
LINE_PROBLEM = "line_problem"
MAX_PASSWORD_LENGTH = 256
MAX_PIN_LENGTH = 64
MAX_CALLBACK_LENGTH = 128
_HEADER = re.compile(r"^profiles_header_([0-9]{1,9})$", re.IGNORECASE)
# A function name or a dotted path of names, as JSONP callers use (jQuery123_456, app.done).
_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$")
_TRUE = ("yes", "true", "1", "on")
_FALSE = ("no", "false", "0", "off", "")
_CONTROL = r"[\x00-\x1f\x7f]"


@dataclass(frozen=True)
class Output:
    """How to answer: ``xml`` or ``json``, a JSONP ``callback``, ``condensed`` JSON."""

    format: str = "xml"
    callback: str | None = None
    condensed: bool = False


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    account: str


@dataclass(frozen=True)
class CustomersBatch:
    """A ``customers_batch`` request, ready for the import pipeline."""

    overwrite: str
    no_undo: bool
    card_number_generate: int | None
    campaigns: list[int]
    #: The data as a table: one column per header (the sender's spelling), all text;
    #: the password and PIN columns are left empty (their values are in ``secrets``).
    table: SourceTable
    #: Header column -> profile field, for every column the pipeline maps.
    mapping: dict[str, str]
    #: row (0-based), password, pin: the clear values, to be hashed before anything is stored.
    secrets: pl.DataFrame
    #: The columns holding the code and the card number, when given.
    code_column: str | None
    card_column: str | None


def value(form: Form, name: str) -> str | None:
    """The value of field ``name`` (exact spelling first, else any letter case)."""
    values = form.get(name)
    if values is None:
        matches = [key for key in form if key.lower() == name.lower()]
        if len(matches) > 1:
            raise InvalidInput(
                generic.INVALID_INPUT, f"the field {name} is sent twice ({', '.join(matches)})"
            )
        values = form[matches[0]] if matches else None
    if not values:
        return None
    if len(set(values)) > 1:
        raise InvalidInput(
            generic.INVALID_INPUT, f"the field {name} is sent twice with different values"
        )
    return values[0]


def required(form: Form, name: str) -> str:
    found = value(form, name)
    if found is None or not found.strip():
        raise InvalidInput(generic.INVALID_INPUT, f"the field {name} is required")
    return found


def _flag(form: Form, name: str) -> bool:
    text = (value(form, name) or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(generic.INVALID_INPUT, f"{name} takes yes or no, not '{text}'")


def output_of(form: Form) -> Output:
    """``output``, ``callback`` and ``condensed``; a callback means JSONP."""
    wanted = (value(form, "output") or "xml").strip().lower() or "xml"
    if wanted not in ("xml", "json"):
        raise InvalidInput(generic.INVALID_INPUT, f"output takes XML or JSON, not '{wanted}'")
    callback = (value(form, "callback") or "").strip() or None
    if callback is not None and (
        len(callback) > MAX_CALLBACK_LENGTH or not _CALLBACK.fullmatch(callback)
    ):
        raise InvalidInput(
            generic.INVALID_INPUT,
            "callback must be a JavaScript function name: letters, digits, _ and $, "
            f"names joined by dots, at most {MAX_CALLBACK_LENGTH} characters",
        )
    condensed = _flag(form, "condensed")
    return Output("json" if callback else wanted, callback, condensed)


def fallback_output(form: Form) -> Output:
    """The best answer format for a form whose output fields are themselves wrong."""
    try:
        wanted = (value(form, "output") or "").strip().lower()
    except InvalidInput:
        wanted = ""
    return Output("json" if wanted == "json" else "xml")


def credentials_of(form: Form) -> Credentials:
    return Credentials(
        user=required(form, "user_id").strip(),
        password=required(form, "user_password"),
        account=required(form, "account_id").strip(),
    )


def type_of(form: Form) -> str:
    kind = required(form, "type").strip().lower()
    if kind not in BATCH_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"unknown type '{kind}': the batch types are {', '.join(BATCH_TYPES)}",
        )
    return kind


def customers_batch(form: Form, limits: ReadLimits) -> CustomersBatch:
    """Parse a ``customers_batch`` form; its data becomes a table of text cells."""
    delimiter = _delimiter(form)
    overwrite = (value(form, "overwrite_duplicates") or "update").strip().lower() or "update"
    if overwrite not in OVERWRITE_MODES:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"overwrite_duplicates takes yes, update or ignore, not '{overwrite}'",
        )
    headers = _headers(form)
    data = value(form, "Profiles_Data")
    if data is None or not data.strip():
        raise InvalidInput(
            generic.INVALID_INPUT, "the field Profiles_Data is required: one customer per line"
        )
    frame, secrets = _data(data, delimiter, headers, limits)
    fields = dict(headers)
    mapping = {header: field for header, field in headers if field not in SECRET_FIELDS}
    if LINE_PROBLEM in frame.columns:
        mapping[LINE_PROBLEM] = LINE_PROBLEM
    columns = {field: header for header, field in fields.items()}
    return CustomersBatch(
        overwrite=overwrite,
        no_undo=_flag(form, "no_undo"),
        card_number_generate=_generate(form),
        campaigns=_campaigns(form),
        table=SourceTable(frame, tuple(frame.columns), "pasted", delimiter, None),
        mapping=mapping,
        secrets=secrets,
        code_column=columns.get("code"),
        card_column=columns.get("card_number"),
    )


def _delimiter(form: Form) -> str:
    text = value(form, "delimiter")  # not stripped: it may be the tab character itself
    if not text:
        raise InvalidInput(generic.INVALID_INPUT, "the field delimiter is required")
    name = text.strip().lower()
    if name in DELIMITERS:
        return DELIMITERS[name]
    if text in DELIMITERS.values():  # the character itself
        return text
    raise InvalidInput(
        generic.INVALID_INPUT, f"delimiter takes pipe, comma or tab, not '{text.strip()}'"
    )


def _generate(form: Form) -> int | None:
    text = (value(form, "card_number_generate") or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_GENERATED_DIGITS:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"card_number_generate takes a number of digits from 1 to {MAX_GENERATED_DIGITS}, "
            f"not '{text}'",
        )
    return int(text)


def _campaigns(form: Form) -> list[int]:
    text = required(form, "campaigns_to_include")
    numbers: list[int] = []
    for item in text.split(CAMPAIGN_SEPARATOR):
        item = item.strip()
        if not item:
            raise InvalidInput(
                generic.INVALID_INPUT,
                "campaigns_to_include has an empty campaign id: separate ids by |,|",
            )
        if not (item.isascii() and item.isdigit()) or not 1 <= int(item) <= MAX_ID:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"campaigns_to_include: '{item}' is not a campaign id (a whole number)",
            )
        if int(item) not in numbers:
            numbers.append(int(item))
    return numbers


def _headers(form: Form) -> list[tuple[str, str]]:
    """(header as sent, field) in the order of their numbers."""
    numbered: dict[int, str] = {}
    for key in form:
        match = _HEADER.fullmatch(key)
        if not match:
            continue
        number = int(match.group(1))
        if number in numbered:
            raise InvalidInput(generic.INVALID_INPUT, f"profiles_header_{number} is sent twice")
        numbered[number] = value(form, key) or ""
    if not numbered:
        raise InvalidInput(
            generic.INVALID_INPUT,
            "at least one profiles_header_N field is required (profiles_header_1=code, ...)",
        )
    if 0 in numbered:
        raise InvalidInput(generic.INVALID_INPUT, "profiles_header numbering starts at 1, not 0")
    skipped = sorted(set(range(1, max(numbered) + 1)) - set(numbered))
    if len(skipped) > 1:
        shown = ", ".join(str(n) for n in skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"the profiles_header_N numbers skip {len(skipped)} numbers ({shown}): number them "
            "from 1 upwards, skipping at most one",
        )
    known = {name.lower(): name for name in HEADER_FIELDS}
    known.update(ALIASES)
    headers: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number in sorted(numbered):
        header = numbered[number].strip()
        if not header:
            raise InvalidInput(
                generic.INVALID_INPUT, f"profiles_header_{number} is empty: name a field"
            )
        field = known.get(header.lower())
        if field is None:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"profiles_header_{number}: unknown field '{header}'; the fields are "
                f"{', '.join(HEADER_FIELDS)}",
            )
        if field in seen:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"profiles_header_{number}: {field} is already profiles_header_{seen[field]}",
            )
        seen[field] = number
        headers.append((header, field))
    return headers


def _data(
    text: str, delimiter: str, headers: list[tuple[str, str]], limits: ReadLimits
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The non-empty lines of ``Profiles_Data`` split by ``delimiter``, column-wise."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = pl.DataFrame({"text": text.split("\n")}, schema={"text": pl.String}).filter(
        pl.col("text").str.strip_chars() != ""
    )
    if lines.height == 0:
        raise InvalidInput(codes.NO_DATA, "Profiles_Data holds no customer: one per line")
    if lines.height > limits.max_rows:
        raise InvalidInput(
            codes.TOO_MANY_ROWS,
            f"Profiles_Data has {lines.height:,} lines; at most {limits.max_rows:,} are taken "
            "in one batch: split it",
        )
    cells = pl.col("text").str.split(delimiter)
    lines = lines.with_columns(cells=cells, count=cells.list.len())
    longest = lines.select(cells.list.eval(pl.element().str.len_chars()).list.max().max()).item()
    if longest is not None and longest > limits.max_cell_chars:
        raise InvalidInput(
            codes.CELL_TOO_LONG,
            f"a value of Profiles_Data is longer than {limits.max_cell_chars:,} characters",
        )
    wanted = len(headers)
    cell_columns = [
        pl.col("cells").list.get(index, null_on_oob=True).alias(header)
        for index, (header, _) in enumerate(headers)
    ]
    frame = lines.with_row_index("row").select(pl.col("row").cast(pl.Int64), *cell_columns, "count")
    frame = frame.with_columns(
        pl.when(pl.col(h) != "").then(pl.col(h)).alias(h) for h, _ in headers
    )
    ragged = pl.col("count") != wanted
    secret_columns = {field: header for header, field in headers if field in SECRET_FIELDS}
    secrets = frame.select(
        "row",
        password=_secret(frame, secret_columns.get(PASSWORD), ragged),
        pin=_secret(frame, secret_columns.get(PIN), ragged),
    )
    if frame.select(ragged.any()).item():
        frame = frame.with_columns(
            pl.when(ragged)
            .then(
                pl.format(
                    "line {} has {} cells but {} headers are given",
                    pl.col("row") + 1,
                    "count",
                    pl.lit(wanted),
                )
            )
            .alias(LINE_PROBLEM)
        )
    blank = pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(blank.alias(header) for header in secret_columns.values())
    return frame.drop("row", "count"), secrets


def _secret(frame: pl.DataFrame, header: str | None, ragged: pl.Expr) -> pl.Expr:
    if header is None:
        return pl.lit(None, dtype=pl.String)
    # A line that cannot be read is rejected: none of its cells is kept, secrets least of all.
    return pl.when(~ragged).then(pl.col(header))


def secret_problems(secrets: pl.DataFrame) -> pl.DataFrame:
    """``secrets`` with ``password_problem`` and ``pin_problem``: what is wrong with a value."""

    def problem(name: str, longest: int) -> pl.Expr:
        column = pl.col(name)
        return (
            pl.when(column.str.len_chars() > longest)
            .then(pl.lit(f"at most {longest} characters"))
            .when(column.str.contains(_CONTROL))
            .then(pl.lit("control characters are not allowed"))
        )

    return secrets.with_columns(
        password_problem=problem("password", MAX_PASSWORD_LENGTH),
        pin_problem=problem("pin", MAX_PIN_LENGTH),
    )
