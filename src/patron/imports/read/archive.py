"""The parts of a zipped workbook as its reader will unpack them, whatever the directory says.

A ZIP directory states each part's packed and unpacked size. Python's ``zipfile``
stops reading a part at the unpacked size stated, while calamine (the workbook
reader) inflates the deflate stream to its real end: a forged directory hides
gigabytes behind a small stated size. So nothing here trusts a stated size. Each
part is inflated from its raw data with ``zlib``, a bounded piece at a time, and
every byte that really comes out is charged to one budget for the whole workbook,
which refuses the file as soon as it is spent. The directory itself is bounded
before ``zipfile`` builds an object per entry.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from patron.codes import imports
from patron.imports.read.table import MB, size_text
from patron.kit.errors import InvalidInput

MAX_MEMBERS = 10_000
#: The central directory: an honest workbook's takes a few hundred bytes per part.
MAX_DIRECTORY_BYTES = 4 * MB
_RAW_BLOCK = 64 * 1024  # packed bytes read at a time
_OUT_BLOCK = MB  # most unpacked bytes one inflate call may return
_MAX_RATIO = 200  # a part packed tighter than this is a bomb, not a sheet
_RATIO_FLOOR = MB  # small parts may pack arbitrarily well
_LOCAL_HEADER = b"PK\x03\x04"
_END = b"PK\x05\x06"
_END_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END = b"PK\x06\x06"
_ENCRYPTED = 0x1


class Unpacked:
    """The bytes unpacked so far from one workbook, against its budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.total = 0

    def charge(self, count: int) -> None:
        self.total += count
        if self.total > self.budget:
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"the workbook unpacks to more than {size_text(self.budget)}, more than can "
                "be read safely (or it is a zip bomb): save the data as CSV and upload that",
            )


def damaged(why: str) -> InvalidInput:
    return InvalidInput(
        imports.UNREADABLE_FILE,
        f"the workbook could not be read: {why}; save it again as XLSX or CSV",
    )


def check_directory(stream: BinaryIO, size: int) -> None:
    """Bound the central directory from its end record, before ``zipfile`` reads it.

    ``zipfile`` builds an object per entry of whatever directory the end record
    points at; the ZIP64 end record, when there is one, is the one it follows.
    """
    tail_start = max(0, size - 65_557)  # the end record and a comment of at most 64 KB
    stream.seek(tail_start)
    tail = stream.read()
    at = tail.rfind(_END)
    if at < 0 or len(tail) < at + _END_SIZE:
        raise damaged("it is damaged")
    count, directory = struct.unpack_from("<HI", tail, at + 10)
    locator = at - 20
    if locator >= 0 and tail[locator : locator + 4] == _ZIP64_LOCATOR:
        (offset,) = struct.unpack_from("<Q", tail, locator + 8)
        if offset >= size:
            raise damaged("it is damaged")
        stream.seek(offset)
        record = stream.read(56)
        if len(record) < 56 or not record.startswith(_ZIP64_END):
            raise damaged("it is damaged")
        count, directory = struct.unpack_from("<QQ", record, 32)
    if count > MAX_MEMBERS:
        raise damaged("it holds too many parts")
    if directory > MAX_DIRECTORY_BYTES:
        raise damaged("its table of contents is too large")


def member_blocks(
    stream: BinaryIO, member: zipfile.ZipInfo, unpacked: Unpacked | None
) -> Iterator[bytes]:
    """The part's content as it really unpacks, in blocks of at most 1 MB.

    Every block is charged to ``unpacked`` (None: already counted, read again).
    A part packed more than 200 to 1 past its first megabyte is refused as a bomb.
    """
    if member.flag_bits & _ENCRYPTED:
        raise damaged("it is encrypted")
    stream.seek(member.header_offset)
    header = stream.read(30)
    if len(header) < 30 or not header.startswith(_LOCAL_HEADER):
        raise damaged("it is damaged")
    name_length, extra_length = struct.unpack_from("<HH", header, 26)
    stream.seek(member.header_offset + 30 + name_length + extra_length)
    if member.compress_type == zipfile.ZIP_STORED:
        blocks = _stored(stream, member.compress_size)
    elif member.compress_type == zipfile.ZIP_DEFLATED:
        blocks = _inflated(stream)
    else:
        raise damaged(f"its part '{member.filename}' is packed in an unusual way")
    packed = out = 0
    for raw, block in blocks:
        packed += raw
        out += len(block)
        if unpacked is not None:
            unpacked.charge(len(block))
        if out > _RATIO_FLOOR and out > _MAX_RATIO * max(packed, 1):
            raise InvalidInput(
                imports.UNREADABLE_FILE,
                f"the workbook part '{member.filename}' is compressed "
                f"{out / max(packed, 1):,.0f} to 1, which only a zip bomb does: "
                "the file was refused",
            )
        if block:
            yield block


def _stored(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes]]:
    left = size
    while left > 0:
        block = stream.read(min(_OUT_BLOCK, left))
        if not block:
            return  # cut short: the reader fails on it as well
        left -= len(block)
        yield len(block), block


def _inflated(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(packed bytes consumed, unpacked block) until the deflate stream ends."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        while not inflater.eof:
            raw = stream.read(_RAW_BLOCK)
            if not raw:
                return  # cut short: the reader fails on it as well
            consumed = len(raw)
            pending = raw
            while True:
                block = inflater.decompress(pending, _OUT_BLOCK)
                pending = inflater.unconsumed_tail
                if inflater.eof:
                    consumed -= len(inflater.unused_data)
                yield consumed, block
                consumed = 0
                if inflater.eof or (not pending and not block):
                    break
    except zlib.error:
        raise damaged("it is damaged") from None


def read_small(stream: BinaryIO, member: zipfile.ZipInfo, most: int) -> bytes | None:
    """A small part whole (the ``mimetype``), or None when it unpacks to more than ``most``."""
    budget = Unpacked(most)
    try:
        return b"".join(member_blocks(stream, member, budget))
    except InvalidInput:
        if budget.total > most:
            return None
        raise
