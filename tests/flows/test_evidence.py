"""Evidence is checked by content: photos are re-encoded without metadata, PDFs must look
like PDFs, and everything else is refused with a translated message."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from flows.evidence import evidence_check

MB = 1024 * 1024
TODAY = date(2026, 11, 20)


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (32, 24), "red")
    exif = Image.Exif()
    exif[0x8825] = {2: (31.0, 14.0, 0.0), 4: (121.0, 28.0, 0.0)}  # GPSInfo
    exif[0x010F] = "DemoCam"  # Make
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    return out.getvalue()


def _check(data: bytes, name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile(name, data)
    return evidence_check(
        upload=upload,
        max_bytes=kwargs.pop("max_bytes", 2 * MB),  # type: ignore[arg-type]
        today=TODAY,
        **kwargs,
    )  # type: ignore[arg-type]


def test_a_photo_is_stored_without_its_location_under_a_generated_name() -> None:
    checked = _check(_jpeg_with_gps(), "../../etc/passwd.jpg")
    assert checked.content_type == "image/jpeg"
    assert checked.content.name.startswith("evidence/2026/11/")
    assert checked.content.name.endswith(".jpg") and "passwd" not in checked.content.name
    assert checked.original_name == "passwd.jpg"
    with Image.open(io.BytesIO(checked.content.read())) as image:
        assert not image.getexif().get_ifd(0x8825)
        assert "exif" not in image.info


def test_an_organisation_may_keep_photo_metadata() -> None:
    checked = _check(_jpeg_with_gps(), "scene.jpg", keep_metadata=True)
    with Image.open(io.BytesIO(checked.content.read())) as image:
        assert image.getexif().get_ifd(0x8825)


def test_a_gif_html_polyglot_loses_its_html() -> None:
    polyglot = _gif() + b"<html><script>alert(1)</script></html>"
    checked = _check(polyglot, "innocent.gif")
    stored = checked.content.read()
    assert b"<script" not in stored and checked.content_type == "image/png"


def test_html_named_as_a_photo_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        _check(b"<html><script>alert(1)</script></html>", "photo.jpg")
    assert error.value.code == "bad_type"


def test_a_pdf_is_accepted_by_its_content() -> None:
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    checked = _check(pdf, "certificate.bin")
    assert checked.content_type == "application/pdf"
    assert checked.content.name.endswith(".pdf")


def test_an_oversized_file_is_refused_with_a_translated_message(settings: object) -> None:
    with pytest.raises(ValidationError) as error:
        _check(b"%PDF-1.4\n" + b"0" * (MB + 10) + b"\n%%EOF", "big.pdf", max_bytes=MB)
    assert error.value.code == "too_large"
    assert "1 MB" in error.value.messages[0]
