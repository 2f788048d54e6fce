"""Static files for production: whitenoise's compressed, hashed storage, tolerant of the
vendor CSS that names font files its package does not ship (django-viewflow's Roboto CSS
lists weights such as Roboto-Thin.woff2 that are not in the wheel). Such a reference is
left unhashed; a missing file referenced by our own CSS still fails ``collectstatic``."""

from __future__ import annotations

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage

#: Vendor directories whose CSS may reference files that were never shipped.
TOLERATED = ("viewflow/fonts/",)


class StaticStorage(CompressedManifestStaticFilesStorage):
    def hashed_name(self, name: str, content: Any = None, filename: Any = None) -> str:
        try:
            return super().hashed_name(name, content, filename)
        except ValueError:
            if content is None and name.startswith(TOLERATED):
                return name
            raise
