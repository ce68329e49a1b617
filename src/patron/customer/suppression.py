"""A registration meets the suppressions a deletion left, as an import does.

Deleting a customer keeps one keyed hash per identifier it held. A registration through
the API whose new identifiers match one is a deleted person coming back, perhaps a
replayed request: the org decides (``deleted_identifier_registration``) whether it is
refused or goes ahead with a warning. Either way nobody is re-created silently.

    95301  Conflict  an identifier belongs to a deleted customer (the org refuses)
    95302  warning   the same, registered anyway (the org allows it)
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from patron.codes import customer
from patron.customer import records_repository
from patron.customer.deletion import suppression_digest
from patron.kit.errors import Conflict, Notice
from patron.orgs.settings import OrgSettings


def check(
    conn: Connection,
    org_id: int,
    settings: OrgSettings,
    pairs: Sequence[tuple[str, str]],
    warnings: list[Notice],
) -> None:
    """Refuse (95301) or warn (95302) when one of the (type, normalized value) ``pairs``
    belonged to a deleted customer of the org."""
    digests = {(kind, suppression_digest(kind, value)): kind for kind, value in pairs}
    found = records_repository.suppressed_digests(conn, org_id, list(digests))
    if not found:
        return
    kinds = ", ".join(sorted({digests[pair] for pair in found}))
    if settings.deleted_identifier_registration == "refuse":
        raise Conflict(
            customer.IDENTIFIER_SUPPRESSED,
            f"The {kinds} belongs to a deleted customer: registering the person again is "
            "refused by the org (setting deleted_identifier_registration)",
        )
    warnings.append(
        Notice(
            customer.IDENTIFIER_RELEASED,
            f"The {kinds} belonged to a deleted customer; registered again",
        )
    )
