"""Files and values named on the command line: every mistake is one line and an exit code.

The commands are taken from the Typer app itself: a new command with a file or
path parameter, an integer or a choice is covered without touching this file.
None of these runs gets as far as the database: the URL names a file that does
not exist, and each test checks that it still does not.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patron.cli.common import readable_file, writable_file
from patron.cli.errors import FILE_EXIT_CODE, USAGE_EXIT_CODE
from tests.test_cli import Cli, command_paths, invoke

#: Every (command, parameter) that names a file, found in the app.
FileParameter = tuple[str, Any, Any]


def annotation(param: Any) -> Any:
    return param.type_descriptor.annotation


def declared_callback(param: Any) -> Any:
    """The callback as the command declares it (Typer wraps the one it calls)."""
    return param.type_descriptor.parameter_info.callback


def leaf_commands() -> Iterator[tuple[str, Any]]:
    for path, command in command_paths():
        if not hasattr(command, "commands"):
            yield path, command


def file_parameters() -> list[FileParameter]:
    return [
        (path, command, param)
        for path, command in leaf_commands()
        for param in command.params
        if param.type_descriptor.is_path or param.type_descriptor.is_file
    ]


def value_parameters() -> list[FileParameter]:
    """Parameters that take an integer or one of a few choices: a wrong value is refused."""
    return [
        (path, command, param)
        for path, command in leaf_commands()
        for param in command.params
        if annotation(param) is int or param.type_descriptor.is_choice
    ]


def label(parameter: FileParameter) -> str:
    path, _, param = parameter
    return f"{path} {param.opts[0] if param.param_type_name == 'option' else param.name}"


def placeholder(param: Any, spare: Path) -> str:
    """A valid value for a required parameter that is not under test."""
    if param.type_descriptor.is_path:
        spare.write_text("First Name,Mobile\nTom,9900111111\n")
        return str(spare)
    if param.type_descriptor.is_choice:
        return str(param.type_descriptor.choices[0])
    return "1" if annotation(param) is int else "x"


def arguments(command: Any, tested: Any, value: str, spare: Path) -> list[str]:
    """``command``'s required parameters with placeholders, ``tested`` given ``value``."""
    args: list[str] = []
    for param in command.params:
        if param is tested:
            given = value
        elif param.required:
            given = placeholder(param, spare)
        else:
            continue
        args += [param.opts[0], given] if param.param_type_name == "option" else [given]
    return args


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    database = tmp_path / "absent" / "patron.db"
    yield Cli(f"sqlite:///{database}")
    # Refused before anything was opened: no database, not even its directory.
    assert not database.parent.exists()


def unreadable(tmp_path: Path) -> Path:
    """A file that exists but cannot be read, even by root (who ignores permission bits)."""
    path = tmp_path / "unreadable.csv"
    if os.geteuid() == 0:
        path.symlink_to("/proc/self/mem")  # reading its first page fails with EIO
    else:
        path.write_text("a,b\n1,2\n")
        path.chmod(0)
    return path


def test_the_file_parameters_are_found_and_each_declares_its_check() -> None:
    found = {label(p): declared_callback(p[2]) for p in file_parameters()}

    assert {
        "import file",
        "import --report",
        "imports suggest file",
        "imports report --output",
        "coupons issue --codes-file",
        "demo --credentials-file",
    } <= set(found)
    unchecked = [
        name for name, check in found.items() if check not in (readable_file, writable_file)
    ]
    assert not unchecked, f"give these callback=readable_file or writable_file: {unchecked}"


INPUTS = [p for p in file_parameters() if declared_callback(p[2]) is readable_file]
OUTPUTS = [p for p in file_parameters() if declared_callback(p[2]) is writable_file]


@pytest.mark.parametrize("case", ["missing", "in a missing directory", "a directory", "unreadable"])
@pytest.mark.parametrize("parameter", INPUTS, ids=label)
def test_an_input_file_that_cannot_be_read_is_one_line(
    cli: Cli, tmp_path: Path, parameter: FileParameter, case: str
) -> None:
    path, command, param = parameter
    given = {
        "missing": lambda: tmp_path / "nonexistent.csv",
        "in a missing directory": lambda: tmp_path / "nowhere" / "members.csv",
        "a directory": lambda: tmp_path,
        "unreadable": lambda: unreadable(tmp_path),
    }[case]()

    line = cli.fails(
        *path.split(),
        *arguments(command, param, str(given), tmp_path / "spare.csv"),
        code=FILE_EXIT_CODE,
    )

    assert line.startswith(f"error: file: {given}: "), line


@pytest.mark.parametrize("case", ["in a missing directory", "a directory"])
@pytest.mark.parametrize("parameter", OUTPUTS, ids=label)
def test_an_output_file_that_cannot_be_written_is_one_line(
    cli: Cli, tmp_path: Path, parameter: FileParameter, case: str
) -> None:
    path, command, param = parameter
    given = tmp_path / "nowhere" / "report.csv" if case == "in a missing directory" else tmp_path

    line = cli.fails(
        *path.split(),
        *arguments(command, param, str(given), tmp_path / "spare.csv"),
        code=FILE_EXIT_CODE,
    )

    assert line.startswith(f"error: file: {given}: "), line
    assert not (tmp_path / "nowhere").exists()


def test_the_messages_say_what_is_wrong(cli: Cli, tmp_path: Path) -> None:
    missing = cli.fails("import", str(tmp_path / "nonexistent.csv"), "--org", "demo", code=9)
    directory = cli.fails("imports", "suggest", str(tmp_path), "--org", "demo", code=9)
    no_dir = cli.fails(
        "imports", "report", "1", "--org", "demo", "--output", "nowhere/r.csv", code=9
    )

    assert missing == f"error: file: {tmp_path / 'nonexistent.csv'}: no such file"
    assert directory == f"error: file: {tmp_path}: is a directory, not a file"
    assert no_dir == "error: file: nowhere/r.csv: the directory nowhere does not exist"


@pytest.mark.parametrize("parameter", value_parameters(), ids=label)
def test_a_bad_value_is_one_line(cli: Cli, tmp_path: Path, parameter: FileParameter) -> None:
    path, command, param = parameter
    args = arguments(command, param, "bogus", tmp_path / "spare.csv")

    line = cli.fails(*path.split(), *args, code=USAGE_EXIT_CODE)

    assert line.startswith("error: invalid value for "), line
    assert line.endswith(f"(see `patron {path} --help`)"), line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "list"], "error: missing option '--org'"),
        (["users", "list", "--org", "x", "--bogus"], "error: no such option: --bogus"),
        (["--bogus"], "error: no such option: --bogus"),
        (["nosuch"], "error: no such command 'nosuch'"),
        (["imports", "nosuch"], "error: no such command 'nosuch'"),
    ],
)
def test_a_wrong_command_line_is_one_line(cli: Cli, args: list[str], message: str) -> None:
    line = cli.fails(*args, code=USAGE_EXIT_CODE)

    assert line.startswith(message), line


def test_a_group_without_a_command_still_prints_its_help(cli: Cli) -> None:
    result = invoke(cli.url, "imports", "templates")

    assert "Usage: patron imports templates" in result.output
    assert "create" in result.output
    assert "error:" not in result.output
