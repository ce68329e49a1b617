"""What deleting a customer removes from loyalty.

Removed: its partner program links (the partner's id for the person) and the free
texts of its goodwill and retro requests and of the transfers it gave or received
(a reason or a note may name the person). Kept: programs, balances, ledger entries,
requests and transfers themselves: amounts, slabs, dates and ids, no personal data.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from patron.loyalty import program_repository, request_repository


def erase(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> dict[str, int]:
    """Erase the customers' personal data in loyalty; answers counts for the audit entry."""
    return {
        "partnerLinks": program_repository.delete_memberships(conn, org_id, customer_ids),
        "loyaltyTexts": request_repository.erase_texts(conn, org_id, customer_ids),
    }
