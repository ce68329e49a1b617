"""Big uploads are refused while they stream, not after being read whole.

A served app (``uvicorn`` in a subprocess, on the test database) receives a file of
100 MB + 1 byte, a 60 MB file of one line and a legacy batch whose ``Profiles_Data``
file is over the limit; the peak memory of the server process (``VmHWM``) may grow by
a few buffers, never by the file. The same files are read by ``read_path`` (the
command line's reader) in a subprocess, measured the same way. Line lengths are
counted a block at a time: the edges of that (a CRLF cut between blocks, UTF-16,
Latin-1) are checked here too.
"""

from __future__ import annotations

import codecs
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.cli.errors import EXIT_CODES
from patron.imports import jobs
from patron.imports.read import ReadLimits, read_pasted, read_upload
from patron.kit.errors import InvalidInput
from patron.settings import Settings
from tests.conftest import OrgHandle
from tests.importing import import_org
from tests.test_upload_bombs import read_measured

MB = 1024 * 1024
LIMIT = 100 * MB  # PATRON_IMPORT_MAX_BYTES by default
#: What one refused upload may add to the server's peak memory: buffers, not the file.
BUFFERS = 64 * MB
HONEST = b"First Name,Mobile,Store\nAnn,919800007001,mal\n"


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CSV of 100 MB + 1 byte (valid but for its size) and a 60 MB file of one line."""
    folder = tmp_path_factory.mktemp("big")
    over = folder / "over.csv"
    with over.open("wb") as out:
        out.write(b"Name,Mobile\n")
        line = b"Ann,919800007001\n"
        left = LIMIT + 1 - len(b"Name,Mobile\n")
        block = line * (MB // len(line))
        while left >= len(block):
            out.write(block)
            left -= len(block)
        out.write(line * (left // len(line)) + b"x" * (left % len(line)))
    assert over.stat().st_size == LIMIT + 1
    one_line = folder / "one-line.csv"
    with one_line.open("wb") as out:
        out.write(b"Name,Mobile\n")
        for _ in range(60):
            out.write(b"x" * MB)
        out.write(b"\n")
    return {"over": over, "one_line": one_line}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """``patron``'s API in a subprocess, and the peak memory of that process."""

    def __init__(self, base: str, process: subprocess.Popen[bytes]) -> None:
        self.base = base
        self.process = process

    def peak(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

    def post(self, path: str, **kwargs: Any) -> tuple[httpx.Response, int]:
        """The answer, and how much the server's peak memory grew while it was made."""
        before = self.peak()
        answer = httpx.post(f"{self.base}{path}", timeout=300, **kwargs)
        return answer, self.peak() - before


@pytest.fixture
def served(engine: Engine) -> Iterator[Served]:
    port = _free_port()
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PATRON_IMPORT_WORKER": "false",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "patron.api.app:create_app"]
    process = subprocess.Popen([*command, "--port", str(port), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/docs", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the server did not start")
    yield Served(base, process)
    process.terminate()
    process.wait(timeout=30)


def _upload(served: Served, org: OrgHandle, path: Path) -> tuple[httpx.Response, int]:
    with path.open("rb") as file:
        return served.post(
            "/v2/imports",
            headers={"Authorization": f"Bearer {org.keys['editor']}"},
            files={"file": (path.name, file, "text/csv")},
        )


def _error(answer: httpx.Response) -> tuple[int, str]:
    error = answer.json()["errors"][0]
    return error["code"], error["message"]


def test_big_uploads_are_refused_without_being_read_whole(
    engine: Engine, served: Served, big_files: dict[str, Path], tmp_path: Path
) -> None:
    org = import_org(engine)
    honest = tmp_path / "honest.csv"
    honest.write_bytes(HONEST)
    warm, _ = _upload(served, org, honest)  # everything a request loads is loaded now
    assert warm.status_code == 202, warm.text

    over, grown = _upload(served, org, big_files["over"])
    assert over.status_code == 400, over.text
    assert _error(over) == (
        96001,
        "the file is 100 MB; the largest file that can be imported is 100 MB: "
        "split it into smaller files",
    )
    assert grown <= BUFFERS, f"{grown / MB:.0f} MB"

    one_line, grown = _upload(served, org, big_files["one_line"])
    assert one_line.status_code == 400, one_line.text
    assert _error(one_line) == (
        96004,
        "line 2 is 62,914,560 characters long, more than 200 cells of at most 10,000 "
        "characters can fill: check the delimiter and quoting",
    )
    assert grown <= BUFFERS, f"{grown / MB:.0f} MB"

    again, _ = _upload(served, org, honest)  # an honest file still imports
    assert again.status_code == 202, again.text
    jobs.run_pending(engine)
    found = httpx.get(
        f"{served.base}/v2/imports/{again.json()['id']}",
        headers={"Authorization": f"Bearer {org.keys['viewer']}"},
    ).json()
    assert found["state"] == "previewed"
    assert found["counts"]["inserted"] == 1


def test_an_upload_with_an_idempotency_key_is_fingerprinted_without_being_held(
    engine: Engine, served: Served, big_files: dict[str, Path], tmp_path: Path
) -> None:
    org = import_org(engine)
    honest = tmp_path / "honest.csv"
    honest.write_bytes(HONEST)
    warm, _ = _upload(served, org, honest)
    assert warm.status_code == 202, warm.text

    def keyed() -> tuple[httpx.Response, int]:
        with big_files["one_line"].open("rb") as file:
            return served.post(
                "/v2/imports",
                headers={
                    "Authorization": f"Bearer {org.keys['editor']}",
                    "Idempotency-Key": "one-line-upload",
                    # One boundary, so that both sends are the same request, byte for byte.
                    "Content-Type": "multipart/form-data; boundary=patron-test-boundary",
                },
                files={"file": ("one-line.csv", file, "text/csv")},
            )

    first, grown = keyed()
    assert first.status_code == 400, first.text
    assert _error(first)[0] == 96004
    assert grown <= BUFFERS, f"{grown / MB:.0f} MB"
    # The same upload under the same key is the same request: its answer is replayed.
    again, grown = keyed()
    assert (again.status_code, again.json()) == (400, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert grown <= BUFFERS, f"{grown / MB:.0f} MB"


def test_a_legacy_batch_file_over_the_limit_is_refused_by_its_size(
    engine: Engine, served: Served, big_files: dict[str, Path]
) -> None:
    org = import_org(engine)
    form = {
        "user_id": "nobody",
        "user_password": "wrong",
        "account_id": org.name,
        "type": "customers_batch",
        "delimiter": "comma",
        "profiles_header_1": "code",
        "campaigns_to_include": "1",
    }
    warm, _ = served.post("/api/batch", data={**form, "Profiles_Data": "C1\n"})
    assert warm.status_code == 401, warm.text
    with big_files["over"].open("rb") as file:
        answer, grown = served.post(
            "/api/batch",
            data=form,
            files={"Profiles_Data": ("customers.txt", file, "text/plain")},
        )
    assert answer.status_code == 400, answer.text
    assert '<error code="96001">the file sent as Profiles_Data is 100 MB; at most 100 MB' in (
        answer.text
    )
    assert grown <= BUFFERS, f"{grown / MB:.0f} MB"


def test_a_streamed_body_over_the_limit_is_answered_413(engine: Engine) -> None:
    # No Content-Length: the limit can only be seen while the body streams in.
    org = import_org(engine)
    settings = Settings(import_max_bytes=MB)
    head = (
        b'--bound\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nName,Mobile\r\n"
    )

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(3):
            yield b"Ann,919800007001\r\n" * (MB // 18)
        yield b"\r\n--bound--\r\n"

    with TestClient(create_app(settings, engine=engine)) as client:
        answer = client.post(
            "/v2/imports",
            content=body(),
            headers={
                "Authorization": f"Bearer {org.keys['editor']}",
                "Content-Type": "multipart/form-data; boundary=bound",
            },
        )
    assert answer.status_code == 413, answer.text
    assert _error(answer) == (413, f"the request body is larger than {2 * MB} bytes")


# -- the command line's reader ------------------------------------------------------------


def test_the_reader_refuses_big_files_within_a_few_buffers(big_files: dict[str, Path]) -> None:
    over = read_measured(big_files["over"])
    assert over.get("code") == 96001, over
    assert over["cost"] <= BUFFERS, f"{over['cost'] / MB:.0f} MB"
    one_line = read_measured(big_files["one_line"])
    assert one_line.get("code") == 96004, one_line
    assert one_line["message"].startswith("line 2 is 62,914,560 characters long")
    assert one_line["cost"] <= BUFFERS, f"{one_line['cost'] / MB:.0f} MB"


def test_the_reader_refuses_millions_of_blank_lines_before_parsing(tmp_path: Path) -> None:
    # 10 MB, one row: the parsers would spend about a hundred bytes on each blank line.
    path = tmp_path / "blank.csv"
    path.write_bytes(b"Name,Mobile\n" + b"\n" * (10 * MB) + b"Ann,919800007001\n")
    blank = read_measured(path)
    assert blank.get("code") == 96002, blank
    assert blank["message"] == (
        "the file has more than 2,000,002 lines, 2 for each of the header and the 1,000,000 "
        "rows that can be imported at once: split it into smaller files"
    )
    assert blank["cost"] <= BUFFERS, f"{blank['cost'] / MB:.0f} MB"


# -- line lengths and counts, a block at a time -------------------------------------------

NARROW = ReadLimits(max_columns=2, max_cell_chars=5)  # lines of at most 16 characters


def too_long(data: bytes, limits: ReadLimits = NARROW) -> str:
    with pytest.raises(InvalidInput) as caught:
        read_upload(data, "lines.csv", limits)
    assert caught.value.code == 96004
    return caught.value.message


def test_a_crlf_cut_between_two_blocks_ends_one_line() -> None:
    # The first block (1 MB) ends with the CR of a CRLF, the next begins with its LF.
    unit = b"abcdefghijkl,mn\r\n"  # 17 bytes, and 17 divides 1 MB + 1
    first = (unit * (MB // len(unit) + 1))[:MB]
    assert first.endswith(b"mn\r")
    lines_before = first.count(b"\n")
    data = first + b"\n" + b"x" * 40 + b"\r\n"
    assert too_long(data).startswith(f"line {lines_before + 2} is 40 characters long")


def test_a_long_line_counts_characters_in_its_encoding() -> None:
    # 12 characters of two bytes each in UTF-8: under a limit of 16 characters.
    under = ("Name\n" + "é" * 12 + "\n").encode()
    table = read_upload(under, "u.csv", ReadLimits(max_columns=1, max_cell_chars=13))
    assert table.frame["Name"].to_list() == ["é" * 12]
    utf16 = codecs.BOM_UTF16_LE + ("a,b\n" + "é" * 20 + "\n").encode("utf-16-le")
    assert too_long(utf16).startswith("line 2 is 20 characters long")
    latin1 = ("a,b\n" + "é" * 20 + "\n").encode("latin-1")  # not UTF-8: one byte each
    assert too_long(latin1).startswith("line 2 is 20 characters long")


def test_lone_cr_line_ends_and_the_last_line_count() -> None:
    assert too_long(b"a,b\rc,d\r" + b"y" * 17).startswith("line 3 is 17 characters long")
    assert too_long(b"a,b\n" * 3 + b"z" * 30 + b"\n").startswith("line 4 is 30 characters long")


def test_lines_beyond_two_a_row_are_refused_and_up_to_two_are_read() -> None:
    limits = ReadLimits(max_rows=2)  # the header and two rows: six lines at most
    table = read_upload(b"a,b\n1,2\n\n\n\n3,4", "six.csv", limits)
    assert table.frame.rows() == [("1", "2"), ("3", "4")]
    with pytest.raises(InvalidInput) as caught:
        read_upload(b"a,b\n1,2\n\n\n\n\n3,4\n", "seven.csv", limits)
    assert caught.value.code == 96002
    assert caught.value.message.startswith("the file has more than 6 lines, 2 for each of the")


def test_pasted_lines_are_counted_before_they_are_parsed() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_pasted("\n" * 5_000 + "Ann\t919800007001\n", ReadLimits())
    assert caught.value.code == 96011


def test_the_command_line_reads_no_more_of_a_paste_than_the_limit(engine: Engine) -> None:
    org = import_org(engine)
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PATRON_IMPORT_MAX_BYTES": str(MB),
    }
    command = ["import", "--paste", "--org", org.name]
    process = subprocess.Popen(
        [sys.executable, "-c", "from patron.cli.main import app; app()", *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    block = b"Ann\t919800007001\tmal\n" * (MB // 21)
    written = 0
    try:
        while written < 200 * MB:  # an endless paste, as far as the command can tell
            process.stdin.write(block)
            written += len(block)
    except BrokenPipeError:
        pass  # the command stopped reading, and ended
    out, err = process.communicate(timeout=120)
    assert process.returncode == EXIT_CODES[InvalidInput], err.decode()
    assert "the largest file that can be imported is 1 MB" in (out + err).decode()
    assert written < 50 * MB  # it read the limit and a buffer, not the paste
