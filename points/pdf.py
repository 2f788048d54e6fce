"""PDF documents (publicity notices, statements, rankings) rendered by WeasyPrint.

Every document is a Django template, so user text is escaped like on any page. The URL
fetcher refuses every URL but inline ``data:`` ones: a document never reaches the network
or the file system, whatever text a user managed to put into it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import io
import logging
import os
import pickle
import selectors
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

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


#: How long the forked parts may take, from the start, before they are killed and the
#: document refused: less than a web worker's own timeout (gunicorn --timeout 60 here).
PART_TIMEOUT_SECONDS = 40


def may_fork() -> bool:
    """Whether a document may be laid out in forked processes: only from the main thread,
    where a gunicorn sync worker, a Celery prefork child or a command does its work. A
    threaded server (runserver, gunicorn gthread) renders in one process: a fork taken
    beside threads that render too could inherit a lock one of them holds."""
    return hasattr(os, "fork") and threading.current_thread() is threading.main_thread()


def usable_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def answer_where_asked() -> None:
    """In a forked child: when its parent gives up on it (``ask_where``), print every
    thread's stack on stderr, so a child that hangs is found from the log. A signal
    handler, not faulthandler's watchdog thread: no thread in a forked child. Without a
    real stderr (Celery's logging proxy) it says nothing."""
    with contextlib.suppress(Exception):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def ask_where(pids: Iterable[int]) -> None:
    """Ask forked children (``answer_where_asked``) for their stacks, before they are killed."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR1)
    time.sleep(0.2)


def _child(html: str, write: int) -> None:  # pragma: no cover - runs in the forked child
    """Lay ``html`` out and send the answer (the PDF and the URLs refused, or the error)
    down the pipe; never returns."""
    status = 0
    try:
        answer_where_asked()
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


@contextlib.contextmanager
def fork_slots(wanted: int) -> Iterator[int]:
    """Up to ``wanted`` slots for forked layouts, shared by every process of this user on
    the machine: ``POINTS_PDF_FORK_SLOTS`` of them (default: one per usable core), each an
    ``flock`` on a file in ``POINTS_PDF_SLOT_DIR`` (default: in the temporary directory;
    the kernel frees a lock whose holder dies). Web workers that lay out long documents at
    once fork no more layouts in all than there are slots; the parts left without a slot
    are laid out by the asking process."""
    count = settings.POINTS_PDF_FORK_SLOTS or usable_cores()
    directory = settings.POINTS_PDF_SLOT_DIR or os.path.join(
        tempfile.gettempdir(), f"points-pdf-slots-{os.getuid()}"
    )
    taken: list[int] = []
    try:
        if wanted > 0 and _slot_dir_usable(directory):
            for slot in range(count):
                if len(taken) == wanted:
                    break
                path = os.path.join(directory, str(slot))
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                taken.append(fd)
    except OSError as error:  # a slot file we may not open: lay the parts out here
        logger.warning("PDF fork slots unusable in %s: %s", directory, error)
    try:
        yield len(taken)
    finally:
        for fd in taken:
            os.close(fd)


def _slot_dir_usable(directory: str) -> bool:
    """The slot directory exists (created if not), is a directory of ours and no link:
    another local user cannot make our layouts wait on, or write through, theirs."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    status = os.lstat(directory)
    if stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid():
        return True
    logger.warning("PDF fork slots: %s is not a directory of this user's", directory)
    return False


class _Forked:
    """Parts laid out in forked processes. Leaving the block, for any reason, kills and
    reaps every child still there and closes every pipe: no child outlives the request."""

    def __init__(self) -> None:
        self.children: list[tuple[int, int]] = []  # (pid, read end of its pipe)

    def __enter__(self) -> _Forked:
        return self

    def start(self, html: str) -> None:
        read, write = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(read)
            os.close(write)
            raise
        if pid == 0:  # pragma: no cover - the child
            os.close(read)
            _child(html, write)
        os.close(write)
        self.children.append((pid, read))

    def answers(self, deadline: float) -> list[tuple[bytes, list[str]]]:
        """Every child's answer, in order, read from all pipes at once until ``deadline``
        (``time.monotonic()``). The first part to fail fails them all, at once."""
        order = [read for _pid, read in self.children]
        chunks: dict[int, list[bytes]] = {read: [] for read in order}
        answers: dict[int, tuple[bytes, list[str]]] = {}
        with selectors.DefaultSelector() as waiting:  # epoll: any descriptor number
            for read in order:
                waiting.register(read, selectors.EVENT_READ)
            while len(answers) < len(order):
                ready = waiting.select(max(0.0, deadline - time.monotonic()))
                if not ready:
                    self._say_where()
                    raise RuntimeError("a PDF part took too long and was stopped")
                for key, _events in ready:
                    read = int(key.fd)
                    chunk = os.read(read, 1 << 20)
                    if chunk:
                        chunks[read].append(chunk)
                    else:
                        waiting.unregister(read)
                        answers[read] = self._finish(read, b"".join(chunks.pop(read)))
        return [answers[read] for read in order]

    def _say_where(self) -> None:
        """Ask each child still laying out for its stack, before the children are killed."""
        pids = [pid for pid, _read in self.children]
        logger.warning("PDF parts still laid out at the deadline: %s", pids)
        ask_where(pids)

    def _finish(self, read: int, data: bytes) -> tuple[bytes, list[str]]:
        """Reap the child whose pipe ``read`` ended and decode its answer."""
        pid = next(pid for pid, fd in self.children if fd == read)
        self.children.remove((pid, read))
        os.close(read)
        _pid, status = os.waitpid(pid, 0)
        if status or not data:
            raise RuntimeError(f"a PDF part's process ended with status {status}")
        answer = pickle.loads(data)  # noqa: S301 - our own child's answer, private pipe
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    def __exit__(self, *exc: object) -> None:
        for pid, read in self.children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            with contextlib.suppress(OSError):
                os.close(read)
        self.children = []


@dataclass(frozen=True)
class Part:
    """Which part of a document a template renders (``html_in_parts``)."""

    first: bool
    last: bool


def html_in_parts(
    *,
    template: str,
    context: dict[str, Any],
    rows_name: str,
    rows: Sequence[Any],
    min_rows: int,
    sizes: Sequence[int] | None = None,
) -> list[str]:
    """A long document's HTML in consecutive parts for ``pdf_from_parts``: one part per
    usable core (at most 4) of at least ``min_rows`` rows each, when this process may fork;
    else one whole document. ``rows`` reach the template as ``rows_name``, each block of
    ``sizes[i]`` rows (default 1) staying in one part; ``part`` (a ``Part``, or None for
    the whole document) tells the template to open with the title only in the first part,
    close only in the last, and leave page numbers to ``pdf_from_parts``."""
    sizes = list(sizes) if sizes is not None else [1] * len(rows)
    parts = min(usable_cores(), 4, sum(sizes) // max(min_rows, 1)) if may_fork() else 1
    cuts = parts_for(sizes, parts)
    if not cuts:
        return [render_html(template=template, context={**context, rows_name: rows})]
    bounds = list(zip([0, *cuts], [*cuts, len(rows)], strict=True))
    return [
        render_html(
            template=template,
            context={
                **context,
                rows_name: rows[start:end],
                "part": Part(first=start == 0, last=end == len(rows)),
            },
        )
        for start, end in bounds
    ]


def pdf_from_parts(htmls: Sequence[str], *, page_rule: str, fetcher: Any = None) -> bytes:
    """One PDF from consecutive parts of a document, each a whole HTML document without
    page numbers (a single part is the whole document and numbers its own pages).

    The parts are laid out side by side, the first here and each other in a forked
    process (WeasyPrint's layout is single-threaded), then joined in order, and every page
    is numbered "n / N" in the bottom-right margin box. ``page_rule`` is the documents'
    ``@page`` size and margins. A 1,000-row publicity notice takes about 60 % of the time
    of one layout on two cores. A forked part fetches through its own ``LocalOnlyFetcher``;
    the URLs it refused are added to ``fetcher``. It adds no CPU work, only spreads it, and
    no more forked layouts run on the machine at once than it has cores (``fork_slots``):
    on a busy server the parts without a slot are laid out here, one after another."""
    from pypdf import PdfReader, PdfWriter

    fetcher = fetcher or _local_only_fetcher()()
    if len(htmls) == 1:
        return pdf_from_html(htmls[0], fetcher)
    if not may_fork():
        pdfs = [pdf_from_html(html, fetcher) for html in htmls]
    else:
        deadline = time.monotonic() + PART_TIMEOUT_SECONDS
        with fork_slots(len(htmls) - 1) as slots, _Forked() as forked:
            for html in htmls[1 : 1 + slots]:
                forked.start(html)
            pdfs = [pdf_from_html(htmls[0], fetcher)]
            answers = forked.answers(deadline)  # read before laying out more here: a
        for pdf, refused in answers:  # child blocked on a full pipe would miss the deadline
            pdfs.append(pdf)
            fetcher.refused.extend(refused)
        # the parts without a slot, once the children are reaped and the slots free
        pdfs += [pdf_from_html(html, fetcher) for html in htmls[1 + slots :]]
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
