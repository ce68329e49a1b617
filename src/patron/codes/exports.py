"""Codes of profile exports."""

from __future__ import annotations

from patron.codes import Domain

DOMAIN = Domain(
    "Exports",
    "Profile exports and their download links.",
)
_ = DOMAIN.code

UNKNOWN_EXPORT = _(99001, 404, "No such export in the org.")
NOT_READY = _(99002, 409, "The export's file is not ready yet.")
EXPIRED = _(99003, 409, "The export's file was deleted after the days it is kept.")
LINK_INVALID = _(99004, 403, "The download link is not valid.")
LINK_EXPIRED = _(99005, 403, "The download link has expired.")
VIEWERS_MAY_NOT = _(99006, 403, "Viewers may not export profiles in this org.")
BAD_FIELDS = _(99007, 400, "The export names an unknown field.")
TOO_MANY_ROWS = _(99008, 400, "An XLSX sheet cannot hold that many rows: export as CSV.")
BAD_FORMAT = _(99009, 400, "The format is neither csv nor xlsx.")
BAD_FILTER = _(99010, 400, "The export names an unknown filter.")
