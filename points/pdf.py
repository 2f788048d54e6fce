"""PDF documents (publicity notices, statements, rankings) rendered by WeasyPrint.

Every document is a Django template, so user text is escaped like on any page. The URL
fetcher refuses every URL but inline ``data:`` ones: a document never reaches the network
or the file system, whatever text a user managed to put into it.
"""

from __future__ import annotations

import io
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Sequence
from functools import cache
from itertools import accumulate
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


#: The bottom-right page number of documents made in parts (see ``pdf_from_parts``).
PAGE_NUMBERS = """<!DOCTYPE html><html><head><meta charset="utf-8"><style>
@page {{ {page_rule}; @bottom-right {{ content: counter(page) " / " counter(pages);
  font-family: "{font}"; font-size: 9pt; }} }}
div {{ break-after: page; }} div:last-child {{ break-after: auto; }}
</style></head><body>{pages}</body></html>"""


def parts_for(sizes: Sequence[int], parts: int) -> list[int]:
    """Where to cut a run of blocks of ``sizes`` rows into at most ``parts`` runs of about
    equal rows: the index each later run starts at (blocks are never cut)."""
    total = sum(sizes)
    ends = list(accumulate(sizes[:-1]))  # rows before each block but the first
    cuts: list[int] = []
    for k in range(1, parts):
        later = range(cuts[-1] if cuts else 0, len(ends))
        if not later:
            break
        best = min(later, key=lambda i: abs(ends[i] - total * k / parts))
        cuts.append(best + 1)
    return cuts


#: How long a forked part may take before it is killed and the document refused.
PART_TIMEOUT_SECONDS = 120


def may_fork() -> bool:
    """Whether a document may be laid out in forked processes: only from the main thread,
    where a gunicorn sync worker, a Celery prefork child or a command does its work. A
    threaded server (runserver, gunicorn gthread) renders in one process: a fork taken
    beside threads that render too could inherit a lock one of them holds."""
    return hasattr(os, "fork") and threading.current_thread() is threading.main_thread()


def _in_fork(html: str) -> tuple[int, int]:
    """Start laying out ``html`` in a forked process: its pid and the pipe its answer
    (``pdf_from_html``'s bytes and refused URLs, or the error) comes through."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its work is checked through the parent
        status = 0
        try:
            os.close(read)
            fetcher = _local_only_fetcher()()
            try:
                answer: Any = (pdf_from_html(html, fetcher), fetcher.refused)
            except Exception as error:
                answer = RuntimeError(f"PDF part failed: {error!r}")
            with os.fdopen(write, "wb") as pipe:
                pickle.dump(answer, pipe)
        except BaseException:
            status = 1
        finally:
            os._exit(status)  # no atexit, no database connection closed under the parent
    os.close(write)
    return pid, read


def _answer(pid: int, read: int, deadline: float) -> tuple[bytes, list[str]]:
    """The forked part's answer, waiting until ``deadline`` (``time.monotonic()``) at
    most; a part still at work then is killed."""
    chunks: list[bytes] = []
    with os.fdopen(read, "rb", buffering=0) as pipe:
        while True:
            ready, _w, _x = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            chunk = pipe.read(1 << 20) if ready else None
            if chunk is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise RuntimeError("a PDF part took too long and was stopped")
            if not chunk:
                break
            chunks.append(chunk)
    _pid, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if status or not data:
        raise RuntimeError(f"a PDF part's process ended with status {status}")
    answer = pickle.loads(data)  # noqa: S301 - our own child's answer, over a private pipe
    if isinstance(answer, Exception):
        raise answer
    return answer  # type: ignore[no-any-return]


def pdf_from_parts(htmls: Sequence[str], *, page_rule: str, fetcher: Any = None) -> bytes:
    """One PDF from consecutive parts of a document, each a whole HTML document without
    page numbers (a single part is the whole document and numbers its own pages).

    The parts are laid out side by side, the first here and each other in a forked
    process (WeasyPrint's layout is single-threaded), then joined in order, and every page
    is numbered "n / N" in the bottom-right margin box. ``page_rule`` is the documents'
    ``@page`` size and margins. A 1,000-row publicity notice takes about 60 % of the time
    of one layout on two cores. URLs refused in any part are added to ``fetcher``."""
    from pypdf import PdfReader, PdfWriter

    fetcher = fetcher or _local_only_fetcher()()
    if len(htmls) == 1:
        return pdf_from_html(htmls[0], fetcher)
    if not may_fork():
        pdfs = [pdf_from_html(html, fetcher) for html in htmls]
    else:
        deadline = time.monotonic() + PART_TIMEOUT_SECONDS
        children = [_in_fork(html) for html in htmls[1:]]
        try:
            pdfs = [pdf_from_html(htmls[0], fetcher)]
        finally:
            answers = [_answer(pid, read, deadline) for pid, read in children]
        for pdf, refused in answers:
            pdfs.append(pdf)
            fetcher.refused.extend(refused)
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(pdf)))
    writer.add_metadata(dict(PdfReader(io.BytesIO(pdfs[0])).metadata or {}))
    count = len(writer.pages)
    numbers = PdfReader(
        io.BytesIO(
            pdf_from_html(
                PAGE_NUMBERS.format(page_rule=page_rule, font=PDF_FONT, pages="<div></div>" * count)
            )
        )
    )
    for page, number in zip(writer.pages, numbers.pages, strict=True):
        page.merge_page(number)
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render_pdf(*, template: str, context: dict[str, Any], fetcher: Any = None) -> bytes:
    """Render ``template`` with ``context`` to PDF bytes."""
    return pdf_from_html(render_html(template=template, context=context), fetcher)
