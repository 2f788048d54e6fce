"""Evidence files (证明材料): photos and PDFs, checked by their content, never by their name.

A photo is decoded and encoded again, which drops its metadata (EXIF, including the place
it was taken, unless the organisation keeps it) and anything hidden after the image data,
such as HTML in a GIF/HTML polyglot. A PDF must start with a PDF header and end with its
end-of-file marker. Files are stored under generated names; the uploaded name is kept only
as text to show.
"""

from __future__ import annotations

import io
import posixpath
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from points.periods import organisation_today

#: Image formats Pillow may decode here, and how they are stored.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
PDF_TYPE = ("application/pdf", "pdf")
MAX_PIXELS = 40_000_000  # larger images are refused rather than decoded (decompression bombs)


@dataclass(frozen=True)
class CheckedEvidence:
    content: ContentFile
    content_type: str
    original_name: str
    size: int


def _original_name(upload: UploadedFile) -> str:
    """The uploaded name as display text only: no directories, bounded length."""
    name = posixpath.basename((upload.name or "").replace("\\", "/")).strip() or "evidence"
    return name[-100:]


def _generated_name(extension: str, today: date) -> str:
    return f"evidence/{today:%Y/%m}/{uuid.uuid4().hex}.{extension}"


def _reencode_image(data: bytes, keep_metadata: bool) -> tuple[bytes, str, str] | None:
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            if kind not in IMAGE_FORMATS:
                return None
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(_("The photo is too large to process."), code="too_large")
            probe.verify()
        with Image.open(io.BytesIO(data)) as opened:
            exif = opened.info.get("exif") if keep_metadata else None
            image = ImageOps.exif_transpose(opened)  # keep the orientation, drop the tag
            content_type, extension = IMAGE_FORMATS[kind]
            out = io.BytesIO()
            if kind == "JPEG":
                image.convert("RGB").save(
                    out, "JPEG", quality=88, **({"exif": exif} if exif else {})
                )
            elif kind == "WEBP":
                image.save(out, "WEBP", quality=88)
            else:
                image.save(out, "PNG", optimize=True)
            return out.getvalue(), content_type, extension
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]


def evidence_check(
    *, upload: UploadedFile, max_bytes: int, keep_metadata: bool = False, today: date
) -> CheckedEvidence:
    """Check an uploaded file and return what to store. Raises ``ValidationError`` with a
    translated message for a file that is too large or is not a photo or a PDF."""
    if upload.size is None or upload.size > max_bytes:
        raise ValidationError(
            _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
            code="too_large",
        )
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValidationError(
            _("The file is larger than %(mb)s MB.") % {"mb": max_bytes // (1024 * 1024)},
            code="too_large",
        )
    image = _reencode_image(data, keep_metadata)
    if image is not None:
        content, content_type, extension = image
    elif _is_pdf(data):
        content, (content_type, extension) = data, PDF_TYPE
    else:
        raise ValidationError(
            _(
                "Only photos (JPEG, PNG, GIF, WebP) and PDF files are accepted; this file is "
                "neither, whatever its name says."
            ),
            code="bad_type",
        )
    stored = ContentFile(content, name=_generated_name(extension, today))
    return CheckedEvidence(stored, content_type, _original_name(upload), len(content))


MB = 1024 * 1024


def evidence_uploaded_today(*, user: Any) -> int:
    """Bytes of evidence the user stored in the last 24 hours."""
    from flows.models import Evidence

    since = timezone.now() - timedelta(days=1)
    used = Evidence.objects.filter(uploaded_by=user, uploaded_at__gte=since).aggregate(
        total=Sum("size")
    )["total"]
    return int(used or 0)


def evidence_check_uploads(
    *, uploads: Iterable[UploadedFile], organisation: Any, user: Any, pending: int = 0
) -> list[CheckedEvidence]:
    """Check uploads under the organisation's policy: each file's size and content, and the
    uploader's quota for 24 hours (``pending``: bytes already checked in this request but
    not yet stored). Raises one ``ValidationError`` naming every refused file."""
    uploads = list(uploads)
    if not uploads:
        return []
    policy = organisation.policy
    quota = policy.upload_quota_mb_per_day * MB
    used = evidence_uploaded_today(user=user) + pending
    checked: list[CheckedEvidence] = []
    errors: list[ValidationError] = []
    for upload in uploads:
        try:
            file = evidence_check(
                upload=upload,
                max_bytes=policy.max_upload_mb * MB,
                keep_metadata=policy.keep_photo_location,
                today=organisation_today(organisation),
            )
        except ValidationError as error:
            errors.append(ValidationError(f"{upload.name}: {error.messages[0]}", code=error.code))
            continue
        used += file.size
        if used > quota:
            errors.append(
                ValidationError(
                    _("%(name)s: this would pass your upload quota of %(mb)s MB a day.")
                    % {"name": upload.name, "mb": policy.upload_quota_mb_per_day},
                    code="quota",
                )
            )
            continue
        checked.append(file)
    if errors:
        raise ValidationError(errors)
    return checked


def evidence_store(
    *, checked: Iterable[CheckedEvidence], user: Any, item: Any = None, appeal: Any = None
) -> list[Any]:
    """Store checked evidence under its generated names, for a declaration item or an appeal."""
    from flows.models import Evidence

    stored = []
    for file in checked:
        evidence = Evidence(
            item=item,
            appeal=appeal,
            content_type=file.content_type,
            original_name=file.original_name,
            size=file.size,
            uploaded_by=user,
        )
        evidence.file.save(file.content.name, file.content, save=False)
        evidence.save()
        stored.append(evidence)
    return stored
