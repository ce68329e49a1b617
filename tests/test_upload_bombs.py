"""Hostile workbooks: zip bombs behind forged sizes, and files built to expand when read.

Each file is read by ``read_path`` in a subprocess, whose peak memory is measured: its
own growth over the interpreter's baseline plus the peak of the process it reads
workbooks in must stay within the workbook limit (256 MB), and the answer must be the
clear refusal. The subprocess runs under a 2 GB data cap, so that a regression fails
the test instead of exhausting the machine.
"""

from __future__ import annotations

import io
import json
import random
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
import xlwt
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli.errors import EXIT_CODES
from patron.cli.main import app
from patron.imports.read import ReadLimits, read_path
from patron.kit.errors import InvalidInput
from tests.conftest import Api, error_codes, make_org

MB = 1024 * 1024
BOUND = 256 * MB  # the default workbook limit: what reading one upload may cost
SHARED = "xl/sharedStrings.xml"
SHEET = "xl/worksheets/sheet1.xml"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

READER = """
import json, resource, sys
from pathlib import Path
from patron.imports.read import ReadLimits, read_path
from patron.kit.errors import InvalidInput

def peak():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

base = peak()
try:
    table = read_path(Path(sys.argv[1]), ReadLimits())
    outcome = {"rows": table.frame.height, "headers": list(table.headers)}
except InvalidInput as exc:
    outcome = {"code": exc.code, "message": exc.message}
outcome["grown"] = peak() - base
outcome["children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps(outcome))
"""


def _guard() -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (2048 * MB, 2048 * MB))


def read_measured(path: Path) -> dict[str, Any]:
    """``read_path`` in a subprocess: its outcome and what it cost (``cost``, bytes)."""
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path)],
        capture_output=True,
        timeout=300,
        preexec_fn=_guard,  # a cap for the subprocess alone
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    outcome: dict[str, Any] = json.loads(done.stdout.decode().splitlines()[-1])
    outcome["cost"] = outcome["grown"] + outcome["children"]
    return outcome


def refused_within_bound(path: Path, fragment: str) -> dict[str, Any]:
    outcome = read_measured(path)
    assert outcome.get("code") == 96006, outcome
    assert fragment in outcome["message"]
    assert outcome["cost"] <= BOUND, f"{outcome['cost'] / MB:.0f} MB"
    return outcome


# -- building forged archives -------------------------------------------------------------


def deflated(data: bytes, *, final: bool) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def deflate_repeated(prefix: bytes, unit: bytes, count: int, suffix: bytes) -> bytes:
    """The raw deflate stream of ``prefix + unit * count + suffix``, never held whole.

    A full flush ends each piece on a byte boundary with no reference behind it, so the
    pieces concatenate into one valid stream.
    """
    return (
        deflated(prefix, final=False)
        + deflated(unit, final=False) * count
        + deflated(suffix, final=True)
    )


def zip_archive(parts: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP of (name, raw data, method, CRC, stated unpacked size): whatever it claims."""
    out = io.BytesIO()
    directory = []
    for name, raw, method, crc, size in parts:
        offset, encoded = out.tell(), name.encode()
        fields = (20, 0, method, 0, 0x21, crc, len(raw), size, len(encoded), 0)
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields) + encoded + raw)
        directory.append(
            struct.pack("<4sH", b"PK\x01\x02", 20)
            + struct.pack("<HHHHHIIIHHHHHII", *fields, 0, 0, 0, 0, offset)
            + encoded
        )
    start = out.tell()
    central = b"".join(directory)
    out.write(central)
    out.write(
        struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(central), start, 0
        )
    )
    return out.getvalue()


def forge(honest: bytes, name: str, prefix: bytes, unit: bytes, count: int, suffix: bytes) -> bytes:
    """``honest`` with the part ``name`` replaced by ``prefix + unit * count + suffix``,
    its local and central directory entries stating the honest part's size (and the CRC
    of as many bytes), as a reader that trusts them would check it."""
    parts = []
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        for info in archive.infolist():
            content = archive.read(info.filename)
            if info.filename != name:
                method = info.compress_type
                raw = content if method == zipfile.ZIP_STORED else deflated(content, final=True)
                parts.append((info.filename, raw, method, zlib.crc32(content), len(content)))
                continue
            stated = len(content)
            seen = (prefix + unit * (stated // len(unit) + 1))[:stated]
            raw = deflate_repeated(prefix, unit, count, suffix)
            parts.append((name, raw, zipfile.ZIP_DEFLATED, zlib.crc32(seen), stated))
    return zip_archive(parts)


def honest_xlsx() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Customers")
    for row, values in enumerate([["Name", "Mobile"], ["Ann", "919900111111"]]):
        for column, value in enumerate(values):
            sheet.write_string(row, column, value)
    book.close()
    return buffer.getvalue()


ODS_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?><office:document-content'
    b' xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    b' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    b' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    b'<office:body><office:spreadsheet><table:table table:name="Customers">'
)
ODS_TAIL = b"</table:table></office:spreadsheet></office:body></office:document-content>"


def ods_cell(text: bytes, repeat: int = 1) -> bytes:
    repeated = f' table:number-columns-repeated="{repeat}"'.encode() if repeat > 1 else b""
    return (
        b'<table:table-cell office:value-type="string"'
        + repeated
        + b"><text:p>"
        + text
        + b"</text:p></table:table-cell>"
    )


def ods_archive(content: bytes) -> bytes:
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest'
        b' xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        b' manifest:version="1.2"><manifest:file-entry manifest:full-path="/"'
        b' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        b"</manifest:manifest>"
    )
    return zip_archive(
        [
            (
                "mimetype",
                ODS_MIMETYPE,
                zipfile.ZIP_STORED,
                zlib.crc32(ODS_MIMETYPE),
                len(ODS_MIMETYPE),
            ),
            ("content.xml", deflated(content, final=True), 8, zlib.crc32(content), len(content)),
            (
                "META-INF/manifest.xml",
                deflated(manifest, final=True),
                8,
                zlib.crc32(manifest),
                len(manifest),
            ),
        ]
    )


def stated_sizes(data: bytes) -> dict[str, int]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: info.file_size for info in archive.infolist()}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def shared_strings_bomb() -> bytes:
    """1 GB in the fourth shared string, behind a directory claiming 248 bytes."""
    honest = honest_xlsx()
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        shared = archive.read(SHARED)
    at = shared.index(b"919900111111")
    return forge(honest, SHARED, shared[:at], b"A" * MB, 1024, shared[at + 12 :])


# -- zip bombs with forged sizes ----------------------------------------------------------


def test_forged_bomb_in_the_shared_strings(tmp_path: Path) -> None:
    data = shared_strings_bomb()
    assert len(data) < 1_200_000
    assert stated_sizes(data)[SHARED] < 300  # what zipfile, and the old check, believed
    path = write(tmp_path, "customers.xlsx", data)
    refused_within_bound(path, "the workbook part 'xl/sharedStrings.xml' is compressed")


def test_forged_bomb_in_a_sheet_packed_less_tightly(tmp_path: Path) -> None:
    # About 165 to 1: under the ratio a bomb is told by, but 300 MB all told.
    digits = random.Random(7)
    unit = b"".join(b"%08x" % digits.getrandbits(32) + b"A" * 1500 for _ in range(MB // 1508))
    honest = honest_xlsx()
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        sheet = archive.read(SHEET)
    cell = b'<c r="B2" t="s"><v>3</v></c>'
    at = sheet.index(cell)
    prefix = sheet[:at] + b'<c r="B2" t="inlineStr"><is><t>'
    suffix = b"</t></is></c>" + sheet[at + len(cell) :]
    data = forge(honest, SHEET, prefix, unit, 300, suffix)
    assert len(data) < 2_500_000
    assert stated_sizes(data)[SHEET] < 1000
    path = write(tmp_path, "customers.xlsx", data)
    refused_within_bound(path, "the workbook unpacks to more than 256 MB")


def test_forged_bomb_in_an_ods_content(tmp_path: Path) -> None:
    head = ODS_HEAD + b"<table:table-row>" + ods_cell(b"Name") + b"</table:table-row>"
    honest = ods_archive(
        head + b"<table:table-row>" + ods_cell(b"Ann") + b"</table:table-row>" + ODS_TAIL
    )
    prefix = head + b'<table:table-row><table:table-cell office:value-type="string"><text:p>'
    suffix = b"</text:p></table:table-cell></table:table-row>" + ODS_TAIL
    data = forge(honest, "content.xml", prefix, b"A" * MB, 1024, suffix)
    assert stated_sizes(data)["content.xml"] < 1000
    path = write(tmp_path, "customers.ods", data)
    refused_within_bound(path, "the workbook part 'content.xml' is compressed")


def test_the_api_answers_a_forged_bomb_with_the_clear_error(api: Api) -> None:
    answer = api.post(
        "/v2/imports",
        files={"file": ("customers.xlsx", shared_strings_bomb(), "application/octet-stream")},
    )
    assert answer.status_code == 400, answer.text
    assert error_codes(answer) == [96006]
    message = answer.json()["errors"][0]["message"]
    assert "the workbook part 'xl/sharedStrings.xml' is compressed" in message
    assert "which only a zip bomb does" in message


def test_the_command_line_answers_a_forged_bomb_in_one_line(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    path = write(tmp_path, "customers.xlsx", shared_strings_bomb())
    runner = CliRunner(
        env={"PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    )
    result = runner.invoke(app, ["import", str(path), "--org", org.name])
    assert result.exit_code == EXIT_CODES[InvalidInput], result.output
    assert "96006" in result.output
    assert "the workbook part 'xl/sharedStrings.xml' is compressed" in result.output
    assert "Traceback" not in result.output


# -- honest sizes, built to expand when read ----------------------------------------------


def test_one_long_shared_string_in_every_row(tmp_path: Path) -> None:
    # 100 KB: 20,000 cells naming one string of 10,000 characters, 200 MB once read.
    path = tmp_path / "shared.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": False})
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "Name")
    long = "x" * 10_000
    for row in range(1, 20_001):
        sheet.write_string(row, 0, long)
    book.close()
    assert path.stat().st_size < 200_000
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def test_a_forged_count_of_shared_strings(tmp_path: Path) -> None:
    # calamine reserves room for uniqueCount strings: 100 trillion asks for 2.4 PB, and a
    # failed allocation aborts the process that makes it.
    honest = honest_xlsx()
    parts = []
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        for info in archive.infolist():
            content = archive.read(info.filename)
            if info.filename == SHARED:
                content = content.replace(b'uniqueCount="4"', b'uniqueCount="100000000000000"')
            parts.append(
                (info.filename, deflated(content, final=True), 8, zlib.crc32(content), len(content))
            )
    path = write(tmp_path, "counted.xlsx", zip_archive(parts))
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def test_ods_rows_and_cells_repeated(tmp_path: Path) -> None:
    # 1 KB: 2,000 rows repeating 10 cells of 10,000 characters, 200 MB once read.
    content = (
        ODS_HEAD
        + b"<table:table-row>"
        + b"".join(ods_cell(b"H%d" % i) for i in range(10))
        + b'</table:table-row><table:table-row table:number-rows-repeated="2000">'
        + ods_cell(b"z" * 10_000, repeat=10)
        + b"</table:table-row>"
        + ODS_TAIL
    )
    path = write(tmp_path, "repeated.ods", ods_archive(content))
    assert path.stat().st_size < 2_000
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def xls(path: Path, rows: list[tuple[int, int, str]]) -> Path:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Customers")
    for row, column, value in rows:
        sheet.write(row, column, value)
    book.save(str(path))
    return path


def test_xls_shared_strings_in_every_row(tmp_path: Path) -> None:
    long = "y" * 10_000
    path = xls(tmp_path / "shared.xls", [(0, 0, "Name"), *((r, 0, long) for r in range(1, 20_001))])
    assert path.stat().st_size < 1_000_000
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def test_xls_with_a_forged_dimensions_record(tmp_path: Path) -> None:
    # DIMENSIONS says 100 million rows by 200 columns: calamine reserves 800 GB for them.
    path = xls(tmp_path / "dimensions.xls", [(0, 0, "Name"), (1, 0, "Ann")])
    data = bytearray(path.read_bytes())
    at = data.find(b"\x00\x02\x0e\x00")  # record 0x0200, 14 bytes
    assert at > 0
    struct.pack_into("<IIHH", data, at + 4, 0, 100_000_000, 0, 200)
    path.write_bytes(bytes(data))
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def test_xls_whose_directory_chain_loops(tmp_path: Path) -> None:
    # The directory's sector points back at itself in the FAT: calamine reads the chain
    # with no end and no bound, a sector at a time.
    path = xls(tmp_path / "loop.xls", [(0, 0, "Name"), (1, 0, "Ann")])
    data = bytearray(path.read_bytes())
    (directory,) = struct.unpack_from("<I", data, 48)
    (first_fat,) = struct.unpack_from("<I", data, 76)
    assert directory < 128  # its entry is in the first FAT sector
    struct.pack_into("<I", data, 512 + first_fat * 512 + directory * 4, directory)
    path.write_bytes(bytes(data))
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


def test_xls_with_two_cells_far_apart(tmp_path: Path) -> None:
    path = xls(tmp_path / "sparse.xls", [(0, 0, "Name"), (65_535, 255, "x")])
    assert path.stat().st_size < 10_000
    refused_within_bound(path, "reading the workbook would take more than 256 MB of memory")


# -- and honest workbooks still read ------------------------------------------------------


@pytest.mark.parametrize("rows", [2, 50_000])
def test_honest_workbooks_read_within_the_bound(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "honest.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    for column, name in enumerate(["Name", "Mobile", "City"]):
        sheet.write_string(0, column, name)
    for row in range(1, rows + 1):
        sheet.write_string(row, 0, f"Customer {row}")
        sheet.write_number(row, 1, 919900000000 + row)
        sheet.write_string(row, 2, "Pune")
    book.close()
    outcome = read_measured(path)
    assert outcome.get("rows") == rows, outcome
    assert outcome["headers"] == ["Name", "Mobile", "City"]
    assert outcome["cost"] <= BOUND, f"{outcome['cost'] / MB:.0f} MB"


def test_the_cells_a_workbook_may_span_follow_its_limit(tmp_path: Path) -> None:
    # 64 MB: at most 524,288 cells (128 bytes each); this sheet spans 650,000.
    path = tmp_path / "dense.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet()
    for row in range(130_000):
        for column in range(5):
            sheet.write_number(row, column, row * 5 + column)
    book.close()
    with pytest.raises(InvalidInput) as caught:
        read_path(path, ReadLimits(max_workbook_bytes=64 * MB))
    assert caught.value.code == 96006
    assert caught.value.message.startswith("the workbook's sheets span at least ")
    assert "cells, more than the 524,288 that can be read safely" in caught.value.message
    assert read_path(path, ReadLimits()).frame.height == 129_999
