"""PDF documents (publicity notices, statements, rankings) rendered by WeasyPrint.

Every document is a Django template, so user text is escaped like on any page. The URL
fetcher refuses every URL but inline ``data:`` ones: a document never reaches the network
or the file system, whatever text a user managed to put into it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.template.loader import render_to_string

#: The CJK font the documents ask for (Debian's fonts-wqy-zenhei).
PDF_FONT = "WenQuanYi Zen Hei"


@cache
def _local_only_fetcher() -> type:
    """WeasyPrint (and Pango through it, some 35 MB) is imported on the first document,
    not when Django starts: web, worker and bench processes that render no PDF stay small."""
    from weasyprint.urls import URLFetcher

    class LocalOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Refuses anything but ``data:`` URLs and remembers what it refused."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if not url.lower().startswith("data:"):
                self.refused.append(url)
                raise ValueError(f"external resources are not fetched: {url[:100]}")
            return super().fetch(url, headers)

    return LocalOnlyFetcher


def __getattr__(name: str) -> Any:
    if name == "LocalOnlyFetcher":
        return _local_only_fetcher()
    raise AttributeError(name)


def render_html(*, template: str, context: dict[str, Any]) -> str:
    """The document's HTML (Django escapes every user text in it)."""
    return render_to_string(template, {"pdf_font": PDF_FONT, **context})


def pdf_from_html(html: str, fetcher: Any = None) -> bytes:
    from weasyprint import HTML

    fetcher = fetcher or _local_only_fetcher()()
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


def render_pdf(*, template: str, context: dict[str, Any], fetcher: Any = None) -> bytes:
    """Render ``template`` with ``context`` to PDF bytes."""
    return pdf_from_html(render_html(template=template, context=context), fetcher)
