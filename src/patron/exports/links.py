"""Signed download links: ``/exports/{id}/download?expires=...&signature=...``.

A console address (a browser opens it, from a mail), answered without a session: the
signature is an HMAC-SHA256, under ``PATRON_SECRET_KEY``, of the export's id and the
link's expiry (Unix seconds), so the link works without signing in (it comes by mail),
for one export, until it expires; a changed id, expiry or signature is refused. The key
never leaves the servers, and every server of a deployment shares it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import urlencode

from patron.codes import exports
from patron.kit.errors import Forbidden

#: Names what the key signs here, so a signature made for something else never fits.
_PURPOSE = "patron.export.download"


def signature(secret_key: str, export_id: int, expires: int) -> str:
    message = f"{_PURPOSE}:{export_id}:{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def download_path(secret_key: str, export_id: int, expires: datetime) -> str:
    """The signed path of the export's file, valid until ``expires``."""
    stamp = int(expires.timestamp())
    query = urlencode({"expires": stamp, "signature": signature(secret_key, export_id, stamp)})
    return f"/exports/{export_id}/download?{query}"


def check(secret_key: str, export_id: int, expires: str, given: str, now: datetime) -> None:
    """Refuse a link whose signature does not fit (99004) or whose time is up (99005)."""
    refused = Forbidden(
        exports.LINK_INVALID,
        "This download link is not valid: copy the whole link from its email, or open the "
        "export's page in the console.",
    )
    if not expires.isdigit() or len(expires) > 12:
        raise refused
    stamp = int(expires)
    if not hmac.compare_digest(signature(secret_key, export_id, stamp), given):
        raise refused
    if datetime.fromtimestamp(stamp, UTC) <= now:
        raise Forbidden(
            exports.LINK_EXPIRED,
            "This download link has expired: the export's page in the console gives a new one "
            "while the file is kept.",
        )
