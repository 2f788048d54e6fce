"""PDF documents (publicity notices, statements, rankings) rendered by WeasyPrint.

Every document is a Django template, so user text is escaped like on any page. The URL
fetcher refuses every URL but inline ``data:`` ones: a document never reaches the network
or the file system, whatever text a user managed to put into it.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher

#: The CJK font the documents ask for (Debian's fonts-wqy-zenhei).
PDF_FONT = "WenQuanYi Zen Hei"


class LocalOnlyFetcher(URLFetcher):
    """Refuses anything but ``data:`` URLs and remembers what it refused."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"data"}, allow_redirects=False, timeout=1)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"external resources are not fetched: {url[:100]}")
        return super().fetch(url, headers)


def render_html(*, template: str, context: dict[str, Any]) -> str:
    """The document's HTML (Django escapes every user text in it)."""
    return render_to_string(template, {"pdf_font": PDF_FONT, **context})


def pdf_from_html(html: str, fetcher: LocalOnlyFetcher | None = None) -> bytes:
    pdf: bytes = HTML(string=html, url_fetcher=fetcher or LocalOnlyFetcher()).write_pdf()
    return pdf


def render_pdf(
    *, template: str, context: dict[str, Any], fetcher: LocalOnlyFetcher | None = None
) -> bytes:
    """Render ``template`` with ``context`` to PDF bytes."""
    return pdf_from_html(render_html(template=template, context=context), fetcher)
