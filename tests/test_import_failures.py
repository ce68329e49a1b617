"""Failures of the import machinery sorted into transient (retry) and terminal (stop)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from patron.imports.failures import TerminalImportError, TransientImportError, classify
from patron.kit.errors import Conflict, InvalidInput, NotFound


@pytest.mark.parametrize(
    ("raised", "kind"),
    [
        (InvalidInput(96101, "column X is mapped twice"), TerminalImportError),
        (NotFound(96201, "import 7 has no stored file"), TerminalImportError),
        (Conflict(96203, "import 7 changed state during its commit"), TransientImportError),
        (OperationalError("INSERT ...", {}, Exception("server closed the connection")),
         TransientImportError),
        (RuntimeError("unforeseen"), TransientImportError),
    ],
)  # fmt: skip
def test_failures_are_sorted(raised: Exception, kind: type[Exception]) -> None:
    failure = classify(raised)
    assert type(failure) is kind
    assert str(failure).startswith(type(raised).__name__ + ": ")


def test_a_sorted_failure_stays_as_it_is_and_messages_are_bounded() -> None:
    terminal = TerminalImportError("stop")
    assert classify(terminal) is terminal
    assert len(str(classify(RuntimeError("x" * 5000)))) == 2000
