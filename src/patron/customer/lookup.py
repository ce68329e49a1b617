"""Finding a customer of the caller's org: by id (following merges) or by identifier.

Every function takes the org id and treats another org's customer exactly as a
customer that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, RowMapping

from patron.cards import repository as cards
from patron.codes import customer as customer_codes
from patron.customer import repository
from patron.identity.rules import normalize_plain_identifier
from patron.identity.types import (
    IDENTIFIER_TYPES,
    MULTI_ACCOUNT_SOURCES,
    Source,
    identifier_type,
    normalize_identifier,
    parse_source,
)
from patron.kit.db import MAX_ID
from patron.kit.errors import Forbidden, InvalidInput, NotFound, Notice
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES, OrgSettings

ALL_SOURCES = "ALL"
#: Look-up keys that are not identifiers: the customer id, and a card's external id.
LOOKUP_KEYS = ("id", "cardExternalId")
#: Identifier names accepted by the look-up endpoints: every identifier type and key.
LOOKUP_NAMES = (*IDENTIFIER_TYPES, *LOOKUP_KEYS)
_MERGE_DEPTH_LIMIT = 20
#: The longest account id a profile stores.
ACCOUNT_ID_MAX_LENGTH = 100


@dataclass(frozen=True)
class SourceAccount:
    """A validated source (or ``ALL``) and account id."""

    source: str
    account_id: str = ""

    @property
    def is_all(self) -> bool:
        return self.source == ALL_SOURCES


@dataclass
class Resolved:
    """A live customer and the warnings its resolution produced (e.g. 91009)."""

    customer: RowMapping
    warnings: list[Notice] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.customer["id"])


def source_account(
    source: str | None,
    account_id: str | None,
    *,
    allow_all: bool = False,
    invalid_source_code: int = customer_codes.SOURCE_INVALID,
    default: str | None = None,
) -> SourceAccount:
    """Validate a source / account pair (8012 or 8011 unknown source, 8045 missing account)."""
    account = account_id_of(account_id)
    name = (source or default or "").strip().upper()
    if allow_all and name == ALL_SOURCES:
        return SourceAccount(ALL_SOURCES, account)
    parsed = parse_source(name) if name else None
    if parsed is None:
        raise InvalidInput(invalid_source_code, f"Invalid source passed: {source!r}")
    if parsed in MULTI_ACCOUNT_SOURCES and not account:
        raise InvalidInput(
            customer_codes.ACCOUNT_ID_MISSING,
            f"Account id is not passed; {parsed} needs an accountId",
        )
    if parsed not in MULTI_ACCOUNT_SOURCES and account:
        raise InvalidInput(
            customer_codes.SOURCE_ACCOUNT_INVALID,
            f"Invalid source account passed: {parsed} has no accounts",
        )
    return SourceAccount(parsed.value, account)


def account_id_of(raw: str | None) -> str:
    """A trimmed account id ("" when none); one no profile can store is 8011.

    An account id longer than a profile stores, or holding control characters,
    names no account.
    """
    account = (raw or "").strip()
    if account:
        checked = normalize_plain_identifier(account, max_length=ACCOUNT_ID_MAX_LENGTH)
        if checked.value is None:
            raise InvalidInput(
                customer_codes.SOURCE_ACCOUNT_INVALID,
                f"Invalid source account passed: {checked.problem}",
            )
    return account


def resolve(
    conn: Connection,
    org_id: int,
    customer_id: int,
    *,
    not_found_code: int = customer_codes.CUSTOMER_NOT_FOUND,
    for_update: bool = False,
    with_purchases: bool = False,
) -> Resolved:
    """The live customer behind ``customer_id``; a merge victim resolves to its survivor.

    A change passes ``for_update``: the rows are locked as they are read, so a merge
    or deletion running meanwhile is waited for, and the change goes to the customer
    that is live once it has committed, never to a fresh victim. Its details pass
    ``with_purchases``: the row then has its lifetime purchases' columns too.
    """
    read = {"for_update": for_update, "with_purchases": with_purchases}
    customer = repository.get_customer(conn, org_id, customer_id, **read)
    return _resolved(conn, org_id, customer_id, customer, read, not_found_code)


def _resolved(
    conn: Connection,
    org_id: int,
    customer_id: int,
    customer: RowMapping | None,
    read: dict[str, bool],
    not_found_code: int,
) -> Resolved:
    """:func:`resolve` from the row of ``customer_id`` read as ``read`` says (None: none)."""
    warnings: list[Notice] = []
    depth = 0
    while customer is not None and customer["merged_into_id"] is not None:
        depth += 1
        if depth > _MERGE_DEPTH_LIMIT:
            customer = None
            break
        customer = repository.get_customer(conn, org_id, int(customer["merged_into_id"]), **read)
        if customer is not None and depth == 1:
            warnings.append(
                Notice(
                    customer_codes.MERGE_SURVIVOR_RETURNED,
                    "Retrieved survivor account for the requested merge victim "
                    f"({customer_id} was merged into {customer['id']})",
                )
            )
    if customer is None or customer["deleted_at"] is not None:
        raise NotFound(not_found_code, "No customer found with the given identifier")
    return Resolved(customer, warnings)


def _holder_of_key(conn: Connection, org_id: int, key: str, value: str) -> int | None:
    if not value:
        raise InvalidInput(
            customer_codes.CUSTOMER_IDENTIFIER_INVALID,
            "Customer identifier is invalid: identifierValue is empty",
        )
    if key == "id":
        if not (value.isascii() and value.isdigit()):  # int() refuses other digits, e.g. "²"
            raise InvalidInput(
                customer_codes.CUSTOMER_IDENTIFIER_INVALID,
                f"Customer identifier is invalid: id {value!r} is no number",
            )
        return int(value) if 0 < int(value) <= MAX_ID else None
    return cards.holder_of_external_id(conn, org_id, value)


def ensure_changeable(customer: RowMapping) -> None:
    """Refuse any change to a customer marked or confirmed as fraud (618)."""
    if customer["fraud_status"] in BLOCKING_FRAUD_STATUSES:
        raise Forbidden(customer_codes.CUSTOMER_FRAUD, "Not allowed - customer is marked as fraud")


def normalized_lookup(
    name: str | None, value: str | None, settings: OrgSettings
) -> tuple[str, str]:
    """Validate ``identifierName``/``identifierValue`` into a stored (type, value) pair (8013)."""
    kind = identifier_type(name or "")
    if kind is None or kind not in LOOKUP_NAMES or not (value or "").strip():
        raise InvalidInput(
            customer_codes.CUSTOMER_IDENTIFIER_INVALID,
            "Customer identifier is invalid; identifierName must be one of "
            f"{', '.join(LOOKUP_NAMES)} and identifierValue must not be empty",
        )
    checked = normalize_identifier(kind, value or "", settings.mobile_rules())
    if checked.value is None:
        raise InvalidInput(
            customer_codes.CUSTOMER_IDENTIFIER_INVALID,
            f"Customer identifier is invalid: {checked.problem}",
        )
    return kind, checked.value


def by_identifier(
    conn: Connection,
    org_id: int,
    settings: OrgSettings,
    name: str | None,
    value: str | None,
    where: SourceAccount,
    *,
    for_update: bool = False,
    with_purchases: bool = False,
) -> Resolved:
    """The customer holding an identifier (8015), on the given source unless ALL (8065).

    ``id`` names the customer by its id, ``cardExternalId`` by its card's external id.
    """
    key = next((k for k in LOOKUP_KEYS if k.lower() == (name or "").strip().lower()), None)
    if key is None and not for_update:
        # A read: the identifier's owner and its row in one statement.
        kind, normalized = normalized_lookup(name, value, settings)
        customer = repository.holder_of(
            conn, org_id, kind, normalized, with_purchases=with_purchases
        )
        if customer is None:
            raise _no_holder()
        read = {"for_update": False, "with_purchases": with_purchases}
        code = customer_codes.CUSTOMER_NOT_FOUND
        resolved = _resolved(conn, org_id, int(customer["id"]), customer, read, code)
    else:
        if key is not None:
            holder = _holder_of_key(conn, org_id, key, (value or "").strip())
        else:
            kind, normalized = normalized_lookup(name, value, settings)
            owners = repository.owners_of(conn, org_id, [(kind, normalized)])
            holder = int(owners[0]["customer_id"]) if owners else None
        if holder is None:
            raise _no_holder()
        resolved = resolve(
            conn, org_id, holder, for_update=for_update, with_purchases=with_purchases
        )
    if not where.is_all and not repository.find_profile(
        conn, org_id, resolved.id, where.source, where.account_id
    ):
        raise NotFound(
            customer_codes.NOT_FOUND_IN_SOURCE,
            "No customer found in the given source with the given identifier",
        )
    return resolved


def _no_holder() -> NotFound:
    return NotFound(
        customer_codes.CUSTOMER_NOT_FOUND, "No customer found with the given identifier"
    )


def profile_on(conn: Connection, org_id: int, customer_id: int, where: SourceAccount) -> RowMapping:
    """The customer's profile on a source/account, or 8065."""
    profile = repository.find_profile(conn, org_id, customer_id, where.source, where.account_id)
    if profile is None:
        raise NotFound(
            customer_codes.NOT_FOUND_IN_SOURCE,
            f"The customer has no profile on {where.source} {where.account_id}".strip(),
        )
    return profile


__all__ = ["ALL_SOURCES", "Resolved", "Source", "SourceAccount", "by_identifier", "resolve"]
