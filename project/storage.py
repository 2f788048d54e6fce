"""Static files for production: whitenoise's compressed, hashed storage, tolerant of the
vendor CSS that names font files its package does not ship (django-viewflow's Roboto CSS
lists weights such as Roboto-Thin.woff2 that are not in the wheel). Such a reference is
left unhashed; a missing file referenced by our own CSS still fails ``collectstatic``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage

#: Vendor directories whose CSS may reference files that were never shipped.
TOLERATED = ("viewflow/fonts/",)


class StaticStorage(CompressedManifestStaticFilesStorage):
    def post_process_with_compression(self, files: Any) -> Any:
        """gzip and brotli copies, unless ``STATIC_COMPRESS=0`` (a proxy compresses, or a
        test only checks the hashing: brotli at its best takes minutes of CPU)."""
        if not settings.STATIC_COMPRESS:
            return files
        return super().post_process_with_compression(files)

    def hashed_name(self, name: str, content: Any = None, filename: Any = None) -> str:
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            if content is None and name.startswith(TOLERATED):
                return name
            raise
