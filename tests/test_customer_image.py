"""A customer's image: judged by its content, re-encoded without metadata, bounded."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.engine import Engine

from patron.customer import image
from patron.customer.record_answers import ImageFile, ImageUploadAnswer
from patron.kit.db import transaction
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import merge, register


def png(width: int = 24, height: int = 16, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_with_metadata() -> bytes:
    """A 30 x 10 JPEG turned by its EXIF (orientation 6), with a GPS position, a camera
    and a comment holding a script."""
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show it upright
    exif[0x010F] = "Vexcam"  # the camera's maker
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude
    buffer = io.BytesIO()
    Image.new("RGB", (30, 10), (10, 120, 10)).save(
        buffer, format="JPEG", exif=exif, comment=b"<script>alert(1)</script>"
    )
    return buffer.getvalue()


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
    )


def huge_png_header(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def upload(api: Api, customer_id: int, content: bytes, name: str, claimed: str, **kw: Any) -> Any:
    return api.post(
        f"/v2/customers/{customer_id}/setImage", files={"file": (name, content, claimed)}, **kw
    )


@pytest.fixture
def tom(api: Api) -> int:
    return register(api, mobile="919845099501")


def stored(api: Api, customer_id: int) -> Any:
    response = api.get(f"/v2/customers/{customer_id}/image", role="viewer")
    assert response.status_code == 200, response.text
    return response


def test_a_png_named_jpg_is_kept_as_the_png_it_is(api: Api, tom: int) -> None:
    sent = png()
    answer = upload(api, tom, sent, "holiday.jpg", "image/jpeg")
    assert answer.status_code == 200, answer.text
    [entry] = answer.json()["data"]
    assert (entry["code"], entry["status"], entry["message"]) == (
        200,
        "true",
        "Successfully uploaded file",
    )
    file = entry["file"]
    assert (file["contentType"], file["width"], file["height"]) == ("image/png", 24, 16)
    assert (file["namespace"], file["acl"], file["version"]) == ("customerImage", "PRIVATE", 1)
    assert file["name"] == f"{api.org.id}/{tom}/0"

    served = stored(api, tom)
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in served.headers["content-security-policy"]
    with Image.open(io.BytesIO(served.content)) as kept:
        assert (kept.format, kept.size) == ("PNG", (24, 16))
        assert kept.getpixel((0, 0)) == (200, 30, 30)

    details = api.get(f"/v2/customers/{tom}", params={"embed": "CUSTOMERIMAGE"}).json()
    [image] = details["customerImage"]
    assert image["file"]["fileHandle"] == file["fileHandle"]
    assert image["filePath"] == f"/v2/customers/{tom}/image"
    assert "customerImage" not in api.get(f"/v2/customers/{tom}").json()
    lower = api.get(f"/v2/customers/{tom}", params={"embed": "customerImage"})
    assert lower.json()["customerImage"] == details["customerImage"]


def test_an_svg_or_another_format_is_refused_whatever_its_name(api: Api, tom: int) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    for content, name, claimed in (
        (svg(), "face.png", "image/png"),
        (svg(), "face.svg", "image/svg+xml"),
        (gif.getvalue(), "face.png", "image/png"),
        (b"GIF89a" + b"\x00" * 40, "face.jpg", "image/jpeg"),
        (b"%PDF-1.7 not an image", "face.webp", "image/webp"),
    ):
        refused = upload(api, tom, content, name, claimed)
        assert refused.status_code == 400, name
        assert error_codes(refused) == [95321]
    damaged = upload(api, tom, png()[:60], "cut.png", "image/png")
    assert error_codes(damaged) == [95322]
    assert error_codes(api.post(f"/v2/customers/{tom}/setImage")) == [95324]
    assert error_codes(api.get(f"/v2/customers/{tom}/image")) == [95325]
    assert (
        api.get(f"/v2/customers/{tom}", params={"embed": "CUSTOMERIMAGE"}).json()["customerImage"]
        == []
    )


def test_a_polyglot_file_keeps_only_its_pixels(api: Api, tom: int) -> None:
    """A PNG with an HTML page and a ZIP archive after its end, and a JPEG whose comment is
    a script and whose EXIF holds a GPS position: what is kept is the picture alone."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr("payload.html", "<script>alert(1)</script>")
    polyglot = png() + b"<html><script>alert(document.domain)</script></html>" + archive.getvalue()
    assert upload(api, tom, polyglot, "x.png", "image/png").status_code == 200
    kept = stored(api, tom).content
    assert b"<script" not in kept
    assert b"PK\x03\x04" not in kept
    assert kept.endswith(b"IEND\xaeB`\x82")

    assert upload(api, tom, jpeg_with_metadata(), "x.jpg", "image/jpeg").status_code == 200
    kept = stored(api, tom).content
    assert b"<script" not in kept
    assert b"Vexcam" not in kept
    assert b"Exif" not in kept
    with Image.open(io.BytesIO(kept)) as picture:
        assert picture.format == "JPEG"
        assert picture.size == (10, 30)  # turned upright by its orientation
        assert dict(picture.getexif()) == {}
        assert "comment" not in picture.info


def test_an_oversized_image_or_too_many_pixels_is_refused(api: Api, tom: int) -> None:
    limit = {"imageMaxBytes": 2048}
    assert api.put("/v2/org/settings", json=limit, role="admin").status_code == 200
    noise = io.BytesIO()
    Image.effect_noise((64, 64), 100).save(noise, format="PNG")
    assert len(noise.getvalue()) > 2048
    refused = upload(api, tom, noise.getvalue(), "noise.png", "image/png")
    assert refused.status_code == 400
    assert error_codes(refused) == [95323]
    assert upload(api, tom, png(), "small.png", "image/png").status_code == 200
    bomb = upload(api, tom, huge_png_header(), "bomb.png", "image/png")
    assert error_codes(bomb) == [95322]
    assert "pixels" in bomb.json()["errors"][0]["message"]
    # Past the API's request limit, the upload is not even read.
    beyond = upload(api, tom, b"\xff\xd8\xff" + b"\x00" * 1_100_000, "big.jpg", "image/jpeg")
    assert beyond.status_code == 413


def test_a_new_image_replaces_the_old_and_can_be_removed(api: Api, tom: int) -> None:
    first = upload(api, tom, png(), "a.png", "image/png").json()["data"][0]["file"]
    webp = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(webp, format="WEBP")
    second = upload(api, tom, webp.getvalue(), "b.png", "image/png").json()["data"][0]["file"]
    assert second["version"] == 2
    assert second["fileHandle"] != first["fileHandle"]
    assert stored(api, tom).headers["content-type"] == "image/webp"
    assert api.post(f"/v2/customers/{tom}/setImage", role="viewer").status_code == 403
    assert api.delete(f"/v2/customers/{tom}/image").json()["deleted"] is True
    assert error_codes(api.delete(f"/v2/customers/{tom}/image")) == [95325]
    audit = api.get(
        "/v2/audit", params={"objectType": "customer", "objectId": str(tom)}, role="admin"
    )
    actions = [e["action"] for e in audit.json()["data"]]
    assert actions[:3] == ["customer.image.delete", "customer.image.set", "customer.image.set"]


def test_a_customer_marked_as_fraud_keeps_its_image(api: Api, tom: int) -> None:
    marked = {"status": "MARKED", "reason": "chargebacks"}
    assert api.put(f"/v2/customers/{tom}/fraudStatus", json=marked, role="admin").status_code == 200
    refused = upload(api, tom, png(), "a.png", "image/png")
    assert refused.status_code == 403
    assert error_codes(refused) == [618]


def test_the_image_follows_a_merge_and_comes_back(api: Api) -> None:
    survivor = register(api, mobile="919845099601")
    victim = register(
        api,
        email="image.victim@example.com",
        identifiers=[{"type": "wechat", "value": "wx-img"}],
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    assert upload(api, victim, png(colour=(1, 2, 3)), "v.png", "image/png").status_code == 200
    merge(api, victim=victim, survivor_mobile="919845099601", source="WECHAT", account_id="acc")
    by_victim = api.get(f"/v2/customers/{victim}/image")
    assert warning_codes(api.get(f"/v2/customers/{victim}")) == [91009]
    assert by_victim.status_code == 200
    assert stored(api, survivor).content == by_victim.content
    unmerged = api.post(f"/v2/customers/{victim}/unmerge", json={"reason": "split"}, role="admin")
    assert unmerged.status_code == 200, unmerged.text
    assert error_codes(api.get(f"/v2/customers/{survivor}/image")) == [95325]
    assert stored(api, victim).content == by_victim.content


def test_the_seed_sample_and_a_stored_image_are_answers_of_the_models(
    api: Api, tom: int, engine: Engine
) -> None:
    extra: Any = ImageUploadAnswer.model_config["json_schema_extra"]
    [sample] = extra["examples"]
    assert ImageUploadAnswer.model_validate(sample).model_dump() == sample
    with transaction(engine) as conn:
        shown, _ = image.set_image(conn, api.org.admin, tom, png())
    # Every key the service answers is in the model (none dropped from the answer).
    assert ImageFile.model_validate(shown).model_dump() == shown
    assert shown["contentType"] == "image/png"
