"""The ids and the paging every API route takes, each defined once.

Ids are stored as 64-bit integers, and both databases refuse a larger number with
an error (SQLite's driver before the query even runs). So the bounds belong to the
parameter: they show in the OpenAPI schema and are checked before the endpoint runs.

- A path id (``PathId`` with ``unknown_as``) outside 1..MAX_ID names nothing: it
  answers exactly as the route answers an unknown id (mapped in ``api.errors``).
- A query id (``query_id``) outside 1..MAX_ID, and an offset outside 0..MAX_OFFSET
  (``Paging``), answer 400.

Id routes spell their paths ``{name:id}``: a whole number, a negative one too,
reaches the endpoint (and answers as an unknown id when out of range), while other
text matches no route, so fixed paths such as ``/v2/customers/search`` never reach
an id route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError
from starlette.convertors import Convertor, register_url_convertor

from patron.codes import customer
from patron.kit.db import MAX_ID
from patron.kit.errors import NotFound, PatronError
from patron.kit.pagination import MAX_OFFSET, Page, page

#: The validation error of a path id out of range; its ``ctx["answer"]`` is the
#: route's unknown-id error, which ``api.errors`` answers instead of a 400.
UNKNOWN_ID = "unknown_id"


class _IdConvertor(Convertor[int]):
    # At most 100 digits: far more than any id, and Python refuses to turn more than
    # 4300 digits into a number, so a longer path matches no route (404) instead.
    regex = "-?[0-9]{1,100}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", _IdConvertor())

#: A path id: declare the route's unknown-id answer with ``Annotated[PathId, unknown_as(...)]``.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description=f"An id from 1 to {MAX_ID}.")]


def unknown_as(answer: Callable[[int], PatronError]) -> BeforeValidator:
    """Answer a path id out of range with ``answer(id)``, the route's unknown-id error."""

    def names_nothing(value: Any) -> Any:
        # Runs before the bounds of ``PathId``, so the range never becomes a plain 400.
        if isinstance(value, int) and not 1 <= value <= MAX_ID:
            raise PydanticCustomError(UNKNOWN_ID, "no such id", {"answer": answer(value)})
        return value

    return BeforeValidator(names_nothing)


def _unknown_customer(_customer_id: int) -> PatronError:
    return NotFound(customer.CUSTOMER_NOT_FOUND, "No customer found with the given identifier")


#: The customer id of ``/v2/customers/{customer_id}/...`` routes (unknown: 8015).
CustomerId = Annotated[PathId, unknown_as(_unknown_customer)]


def query_id(alias: str, description: str) -> Any:
    """A query parameter holding an id: ``Annotated[int | None, query_id(...)] = None``."""
    return Query(alias=alias, ge=1, le=MAX_ID, description=f"{description} (1 to {MAX_ID})")


Limit = Annotated[
    int | None,
    Query(ge=1, description="Page size (default 10, at most 100, unless configured otherwise)."),
]
Offset = Annotated[
    int | None,
    Query(ge=0, le=MAX_OFFSET, description="Entries to skip: 0 by default."),
]


def paging(limit: Limit = None, offset: Offset = None) -> Page:
    """The page a list route asks for (400 beyond the hard maximum of ``limit``)."""
    return page(limit, offset)


#: The ``limit`` / ``offset`` of every list route. Declared after the caller's role, so
#: that missing credentials answer 401 before a page beyond the maximum answers 400.
Paging = Annotated[Page, Depends(paging)]
