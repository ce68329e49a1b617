"""Codes of any endpoint: the HTTP-named ones, the storage's and the idempotency keys'."""

from __future__ import annotations

from patron.codes import Domain

DOMAIN = Domain(
    "Any endpoint",
    "Codes that any operation may answer: the request as a whole, the credentials, the "
    "storage and `Idempotency-Key`. Most are the HTTP status itself.",
)
_ = DOMAIN.code

CHECK_FAILED = _(
    1,
    "command line: exit 1",
    "A check of the command line found problems (the message says which).",
)
SUCCESS = _(200, 200, "The request succeeded (a few answers carry it as their code).")
INVALID_INPUT = _(
    400,
    400,
    "Input is invalid. Please check request parameters or input xml/json; No identifier "
    "provided to get loyalty users.",
)
UNAUTHENTICATED = _(
    401, 401, "No credentials, wrong ones, a revoked API key or an ended console session."
)
FORBIDDEN = _(403, 403, "The credentials lack the role the operation needs, or a rule forbids it.")
NOT_FOUND = _(404, 404, "No such endpoint, or the thing named does not exist in the caller's org.")
METHOD_NOT_ALLOWED = _(405, 405, "The endpoint does not take this HTTP method.")
CONFLICT = _(
    409,
    409,
    "The change collides with stored data or with a running request: an "
    "`Idempotency-Key` used for a different request, an import of the account that is "
    "still running (legacy batch API), a name taken...",
)
PAYLOAD_TOO_LARGE = _(413, 413, "The request body is larger than the endpoint accepts.")
TOO_MANY_FAILURES = _(
    429, 429, "Too many failed console sign-ins of a user name or from an address: wait."
)
INTERNAL_ERROR = _(500, 500, "All requests failed due to errors: nothing was changed.")
IDEMPOTENCY_IN_PROGRESS = _(
    98001, 409, "A request with this `Idempotency-Key` is still running: send it again later."
)
DATABASE_BUSY = _(
    98002,
    "503 + Retry-After",
    "SQLite's write lock stayed with another writer (such as an import's commit) longer "
    "than the busy timeout: nothing was changed, send the request again.",
)
