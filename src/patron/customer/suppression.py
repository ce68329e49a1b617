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

from patron.codes import customer
from patron.customer.deletion import suppression_digest
from patron.kit.errors import Conflict, Notice
from patron.orgs.settings import OrgSettings


def digests_of(pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """The (type, digest) a suppression of each (type, normalized value) pair would hold,
    with the pair it stands for."""
    return {(kind, suppression_digest(kind, value)): (kind, value) for kind, value in pairs}


def meet(settings: OrgSettings, kinds: set[str], warnings: list[Notice]) -> None:
    """Refuse (95301) or warn (95302) when identifiers of these ``kinds`` belonged to a
    deleted customer of the org (none: nothing to say)."""
    if not kinds:
        return
    named = ", ".join(sorted(kinds))
    if settings.deleted_identifier_registration == "refuse":
        raise Conflict(
            customer.IDENTIFIER_SUPPRESSED,
            f"The {named} belongs to a deleted customer: registering the person again is "
            "refused by the org (setting deleted_identifier_registration)",
        )
    warnings.append(
        Notice(
            customer.IDENTIFIER_RELEASED,
            f"The {named} belonged to a deleted customer; registered again",
        )
    )
