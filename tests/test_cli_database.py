"""Which database ``patron`` uses, run as a user runs it: a real process, from any directory.

The default database lives in the data directory (``PATRON_DATA_DIR``, by default
the user's data directory), never in the working directory; only ``init``,
``demo`` and ``db upgrade`` create it, and every failure names the database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from patron.cli.errors import DATABASE_EXIT_CODE
from patron.settings import Settings

ROOT = Path(__file__).parent.parent


def files_under(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*") if p.is_file())


class User:
    """A user with a home of their own, running ``patron`` from a directory of their choice."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
        self.home = tmp_path / "home"
        self.work = tmp_path / "work"
        self.home.mkdir()
        self.work.mkdir()
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        #: Where platformdirs puts patron's data for this user.
        self.data_dir = Path(platformdirs.user_data_dir("patron", appauthor=False))
        kept = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
        self.env = {**kept, "COLUMNS": "200", **env}

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        script = Path(sys.executable).with_name("patron")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "patron.cli.main"]
        return subprocess.run(
            [*command, *args],
            cwd=cwd or self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [("users", "list", "--org", "demo"), ("db", "current"), ("serve",), ("imports", "list")],
    ids=" ".join,
)
def test_a_command_on_a_missing_database_creates_nothing_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    user = User(tmp_path, monkeypatch)
    if args == ("imports", "list"):
        args = (*args, "--org", "demo")
    expected = user.data_dir / "patron.db"

    result = user.run(*args)

    assert result.returncode == DATABASE_EXIT_CODE, result.stderr
    line = one_line(result)
    assert line.startswith(f"error: database sqlite:///{expected}: "), line
    assert "patron init" in line
    assert "patron db upgrade" in line
    assert files_under(tmp_path) == []
    assert not expected.parent.exists()


def test_init_creates_the_database_in_the_data_directory_whatever_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = User(tmp_path, monkeypatch)
    expected = user.data_dir / "patron.db"

    created = user.run("init", "--org", "acme", "--json")

    assert created.returncode == 0, created.stderr
    assert files_under(user.work) == []
    assert expected.is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = user.run("users", "list", "--org", "acme", cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(created.stdout)["user"] in listed.stdout
    assert files_under(elsewhere) == []


def test_patron_data_dir_holds_the_database_and_the_demo_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    user = User(tmp_path, monkeypatch, PATRON_DATA_DIR=str(data))

    demo = user.run("demo")
    upgraded = user.run("db", "upgrade")

    assert demo.returncode == 0, demo.stderr
    assert sorted(p.name for p in files_under(data)) == ["demo-credentials.json", "patron.db"]
    assert files_under(user.work, user.home) == []
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.startswith(f"database sqlite:///{data / 'patron.db'} at revision ")


def test_db_upgrade_creates_the_database_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    user = User(tmp_path, monkeypatch, PATRON_DATA_DIR=str(data))

    result = user.run("db", "upgrade")

    assert result.returncode == 0, result.stderr
    assert f"sqlite:///{data / 'patron.db'}" in result.stdout
    assert (data / "patron.db").is_file()


def test_a_database_that_fails_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/none"
    user = User(tmp_path, monkeypatch, PATRON_DATABASE_URL=url)

    result = user.run("users", "list", "--org", "demo")

    assert result.returncode == DATABASE_EXIT_CODE
    line = one_line(result)
    assert line.startswith("error: database postgresql+psycopg://nobody:***@127.0.0.1:1/none: ")
    assert "s3cret" not in result.stderr
    assert files_under(tmp_path) == []


def test_an_unmigrated_database_is_named_with_the_command_that_migrates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "old.db"
    database.touch()  # an SQLite database without a single table
    user = User(tmp_path, monkeypatch, PATRON_DATABASE_URL=f"sqlite:///{database}")

    result = user.run("users", "list", "--org", "demo")

    assert result.returncode == DATABASE_EXIT_CODE
    line = one_line(result)
    assert line.startswith(f"error: database sqlite:///{database}: "), line
    assert "patron db upgrade" in line


def test_the_default_database_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PATRON_DATABASE_URL", "PATRON_DATA_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = Path(platformdirs.user_data_dir("patron", appauthor=False))

    urls = set()
    for directory in (tmp_path, tmp_path / "home"):
        directory.mkdir(exist_ok=True)
        monkeypatch.chdir(directory)
        settings = Settings(_env_file=None)
        urls.add(settings.database_url)
        assert settings.data_dir == data

    assert urls == {f"sqlite:///{data / 'patron.db'}"}


def test_make_run_keeps_the_demo_in_the_checkouts_var(tmp_path: Path) -> None:
    """``make run`` points ``PATRON_DATA_DIR`` at ``var/`` (README: var/patron.db)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv, bin_dir = tmp_path / "venv", tmp_path / "bin"
    venv.mkdir()
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    for name in ("python", "patron"):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "$* $PATRON_DATA_DIR" >> {seen}\n')
        script.chmod(0o755)
    (venv / ".patron-installed").touch()  # newer than pyproject.toml: nothing to install
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}

    subprocess.run(
        [make, "-C", str(ROOT), "run", f"VENV={venv}", f"BIN={bin_dir}"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )

    assert seen.read_text().splitlines() == [f"demo {ROOT}/var", f"serve {ROOT}/var"]
