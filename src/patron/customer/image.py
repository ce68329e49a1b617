"""A customer's image (``POST /v2/customers/{id}/setImage``, ``embed=CUSTOMERIMAGE``).

The file is judged by its content, never by its name or the type the client claims:
its first bytes must be those of a JPEG, PNG or WebP file, and Pillow must read it
whole as that format. SVG (a document that may carry scripts), GIF, TIFF and anything
else are refused. Before any pixel is decoded, the size of the upload (the org setting
``image_max_bytes``) and the number of pixels (:data:`MAX_PIXELS`) are checked, so a
decompression bomb costs nothing. The image kept is re-encoded from its pixels, in
its own format, turned upright by its EXIF orientation: no metadata (EXIF with its
GPS position, XMP, ICC profile, comments) and no bytes appended after the image (a
polyglot file) survive. It is served with ``nosniff`` and a CSP that allows nothing.

One image per customer; a new one replaces it (its version goes up). It moves with a
merge where the survivor has none, comes back with an unmerge, is in the data-subject
export's ZIP and is erased with the customer.

Codes (patron's own): 95321 not a JPEG, PNG or WebP image; 95322 an image that cannot
be read whole (damaged, truncated, or more than :data:`MAX_PIXELS` pixels); 95323 larger
than the org allows; 95324 no file sent; 95325 the customer has no image.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer, generic
from patron.customer import care_repository, lookup
from patron.customer import image_repository as repository
from patron.kit.errors import InvalidInput, NotFound, Notice
from patron.orgs import service as orgs

#: The most pixels an image may have (a 8000 x 5000 photo): checked from the header.
MAX_PIXELS = 40_000_000
NAMESPACE = "customerImage"


@dataclass(frozen=True)
class Kind:
    """A format accepted: Pillow's name, the MIME type and the file extension."""

    name: str
    content_type: str
    extension: str


JPEG = Kind("JPEG", "image/jpeg", "jpg")
PNG = Kind("PNG", "image/png", "png")
WEBP = Kind("WEBP", "image/webp", "webp")
KINDS = {kind.content_type: kind for kind in (JPEG, PNG, WEBP)}


@dataclass(frozen=True)
class Cleaned:
    """An accepted image, re-encoded."""

    kind: Kind
    content: bytes
    width: int
    height: int


def sniff(data: bytes) -> Kind | None:
    """The format the first bytes of ``data`` announce, if it is one accepted."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def clean(data: bytes, max_bytes: int) -> Cleaned:
    """Check ``data`` as an image and re-encode it without metadata (95321 to 95324)."""
    if not data:
        raise InvalidInput(
            customer.IMAGE_NO_FILE, "no image was sent: post the file as the form field 'file'"
        )
    if len(data) > max_bytes:
        raise InvalidInput(
            customer.IMAGE_TOO_LARGE,
            f"the image has {len(data)} bytes; the org accepts at most {max_bytes}",
        )
    kind = sniff(data)
    if kind is None:
        raise InvalidInput(
            customer.IMAGE_NOT_AN_IMAGE,
            "the file is not a JPEG, PNG or WebP image (judged by its content)",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.name]) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise InvalidInput(
                        customer.IMAGE_UNREADABLE,
                        f"the image has {opened.width} x {opened.height} pixels; at most "
                        f"{MAX_PIXELS} are accepted",
                    )
                opened.load()
                upright = ImageOps.exif_transpose(opened)
    except InvalidInput:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InvalidInput(
            customer.IMAGE_UNREADABLE, f"the {kind.name} image cannot be read whole: {exc}"
        ) from None
    return Cleaned(kind, _encode(upright, kind), upright.width, upright.height)


def _encode(picture: Image.Image, kind: Kind) -> bytes:
    """The pixels of ``picture`` in ``kind``'s format, and nothing else."""
    if kind is JPEG and picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    elif kind is not JPEG and picture.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        picture = picture.convert("RGBA")
    bare = picture.copy()
    bare.info = {}  # what Pillow would otherwise carry over: ICC profile, comments, text
    out = io.BytesIO()
    options: dict[str, Any] = {"JPEG": {"quality": 90}, "WEBP": {"quality": 90}}.get(kind.name, {})
    bare.save(out, format=kind.name, **options)
    return out.getvalue()


def set_image(
    conn: Connection, actor: Actor, customer_id: int, data: bytes
) -> tuple[dict[str, Any], list[Notice]]:
    """Check, clean and keep a customer's image (618 for a customer marked as fraud)."""
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    settings = orgs.get_settings(conn, actor.org_id)
    cleaned = clean(data, settings.image_max_bytes)
    repository.put_image(
        conn,
        actor.org_id,
        resolved.id,
        {
            "content_type": cleaned.kind.content_type,
            "data": cleaned.content,
            "byte_size": len(cleaned.content),
            "width": cleaned.width,
            "height": cleaned.height,
            "file_handle": str(uuid.uuid4()),
            "updated_by": actor.name,
        },
    )
    audit(
        conn,
        actor,
        "customer.image.set",
        "customer",
        resolved.id,
        {
            "type": cleaned.kind.content_type,
            "bytes": len(cleaned.content),
            "sent": len(data),
            "width": cleaned.width,
            "height": cleaned.height,
        },
    )
    row = repository.image_of(conn, actor.org_id, [resolved.id])
    assert row is not None
    return file_document(actor.org_id, row), resolved.warnings


def file_document(org_id: int, row: RowMapping) -> dict[str, Any]:
    """The ``file`` object of the seed's answers, for a stored image."""
    return {
        "acl": "PRIVATE",
        "fileHandle": row["file_handle"],
        "lastModified": _moment(row["updated_at"]),
        "latestVersion": int(row["version"]),
        "name": f"{org_id}/{int(row['customer_id'])}/0",
        "namespace": NAMESPACE,
        "version": int(row["version"]),
        "contentType": row["content_type"],
        "size": int(row["byte_size"]),
        "width": int(row["width"]),
        "height": int(row["height"]),
    }


def _moment(value: Any) -> str:
    # The seed writes "2021-11-24 08:59:40" (UTC).
    return str(value)[:19].replace("T", " ")


def embedded(conn: Connection, org_id: int, customer_ids: list[int]) -> list[dict[str, Any]]:
    """``customerImage`` of the customer details: the image of the first of ``customer_ids``
    that has one (the customer, then those merged into it); empty without one."""
    row = repository.image_of(conn, org_id, customer_ids)
    if row is None:
        return []
    path = f"/v2/customers/{customer_ids[0]}/image"
    return [
        {
            "code": generic.SUCCESS,
            "file": file_document(org_id, row),
            "filePath": path,
            "secureFilePath": path,
            "message": "Success",
            "status": "true",
        }
    ]


def image(conn: Connection, org_id: int, customer_id: int) -> tuple[bytes, str, str]:
    """The stored image of a customer: its bytes, MIME type and file handle (95325)."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    ordered = [resolved.id, *(i for i in family if i != resolved.id)]
    row = repository.image_of(conn, org_id, ordered)
    if row is None:
        raise NotFound(customer.IMAGE_NONE, "the customer has no image")
    return bytes(row["data"]), str(row["content_type"]), str(row["file_handle"])


def remove_image(conn: Connection, actor: Actor, customer_id: int) -> None:
    """Delete a customer's image (95325 when it has none)."""
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    if not repository.delete_image(conn, actor.org_id, resolved.id):
        raise NotFound(customer.IMAGE_NONE, "the customer has no image")
    audit(conn, actor, "customer.image.delete", "customer", resolved.id, {})


def attachments(conn: Connection, org_id: int, customer_ids: list[int]) -> list[tuple[str, bytes]]:
    """The images of ``customer_ids`` as files of the data-subject export's ZIP."""
    files = []
    for row in repository.images_of(conn, org_id, customer_ids):
        kind = KINDS[row["content_type"]]
        files.append((f"customer-{int(row['customer_id'])}-image.{kind.extension}", row["data"]))
    return [(name, bytes(data)) for name, data in files]
