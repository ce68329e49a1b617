"""Customer search: customers whose names or identifiers start with a keyword."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.codes import generic
from patron.customer import care_repository
from patron.kit.errors import InvalidInput
from patron.kit.pagination import Page

#: Longer than any stored name or identifier value, so a longer keyword cannot match.
MAX_QUERY_LENGTH = 255


def search(conn: Connection, org_id: int, q: str | None, page: Page) -> tuple[list[Any], int]:
    """A page of live customers whose first name, last name or an identifier starts with ``q``.

    Names match on every profile, case-insensitively; identifiers match their
    stored (normalized) value. Merge victims and deleted customers never appear.
    Returns the rendered customers (ordered by id) and the total number of matches.
    """
    prefix = (q or "").strip()
    if not prefix:
        raise InvalidInput(
            generic.INVALID_INPUT, "q is required: the start of a name or identifier to search for"
        )
    if len(prefix) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"q may be at most {MAX_QUERY_LENGTH} characters long"
        )
    if "\x00" in prefix:
        raise InvalidInput(generic.INVALID_INPUT, "q must not contain NUL characters")
    ids, total = care_repository.search_ids(conn, org_id, prefix, page.limit, page.offset)
    found: dict[int, dict[str, Any]] = {
        customer_id: {"userId": customer_id, "matchedIdentifiers": [], "profiles": []}
        for customer_id in ids
    }
    for row in care_repository.search_matches(conn, org_id, ids, prefix):
        customer = found[int(row["customer_id"])]
        where = {"source": row["source"], "accountId": row["account_id"]}
        if row["kind"] == "identifier":
            customer["matchedIdentifiers"].append(
                {"idType": row["type"], "idValue": row["value"], **where}
            )
            continue
        customer["profiles"].append(
            {**where, "firstName": row["first_name"], "lastName": row["last_name"]}
        )
        for flag, id_type, column in (
            ("first_match", "firstName", "first_name"),
            ("last_match", "lastName", "last_name"),
        ):
            if row[flag]:
                customer["matchedIdentifiers"].append(
                    {"idType": id_type, "idValue": row[column], **where}
                )
    return list(found.values()), total
