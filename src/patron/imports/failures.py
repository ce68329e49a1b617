"""How a step of the import machinery fails: transient (retry) or terminal (stop).

Rows that cannot be imported are data, an outcome with a code per row, never an
exception. Only the machinery fails, in one of two ways:

- :class:`TransientImportError`: another attempt may succeed (the database
  connection was lost, a lock or serialization conflict, a concurrent change
  that collided with the plan). A commit is retried, then waits for a replay.
- :class:`TerminalImportError`: no attempt can succeed (the stored file is
  gone, the import's mapping or options no longer fit its profile or its org).
  The import stops as ``invalid``, with the message.

:func:`classify` sorts whatever a step raised. A refusal of the domain's
(:class:`~patron.kit.errors.InvalidInput`, :class:`~patron.kit.errors.NotFound`)
is terminal; anything unforeseen counts as transient, so that a commit is never
given up before its retries.
"""

from __future__ import annotations

from patron.kit.errors import InvalidInput, NotFound

MAX_MESSAGE_LENGTH = 2000


class ImportStepError(Exception):
    """A step of an import failed; ``str()`` is the message stored on the import."""


class TransientImportError(ImportStepError):
    """The step may succeed when tried again."""


class TerminalImportError(ImportStepError):
    """The step cannot succeed however often it is tried."""


def classify(exc: Exception) -> ImportStepError:
    """``exc`` as a transient or terminal failure, its message naming what was raised."""
    if isinstance(exc, ImportStepError):
        return exc
    message = f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE_LENGTH]
    if isinstance(exc, InvalidInput | NotFound):
        return TerminalImportError(message)
    return TransientImportError(message)
