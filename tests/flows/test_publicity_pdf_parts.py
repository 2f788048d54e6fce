"""A long publicity notice is laid out in parts side by side (``points.pdf.pdf_from_parts``)
and still reads as one document: every row once and in order, the header on every page,
pages numbered "n / N", the title and the closing line once."""

from __future__ import annotations

import fcntl
import io
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows import publicity_views
from flows.models import AwardNotice, NoticeItem, NoticeStatus, Summary, SummaryItem
from flows.publicity import publicity_for
from flows.publicity_views import PUBLICITY_PAGE, publicity_notice_parts
from points import pdf as pdf_module
from points.pdf import LocalOnlyFetcher, may_fork, parts_for, pdf_from_parts
from tests.conftest import Org
from tests.flows.test_publicity import _client, _pdftotext, _published
from tests.flows.test_publicity import rule as rule

pytestmark = pytest.mark.django_db

ROWS = 90


@pytest.fixture
def long_summary(org: Org, rule: Any, committee2: Any) -> Summary:
    """The published summary of two declarations, plus ROWS notice items over three members
    (rows numbered 第000行 …)."""
    summary = _published(org, rule, committee2)
    notice = AwardNotice.objects.create(
        organisation=org.organisation, issuer=org.leader_a, status=NoticeStatus.APPROVED
    )
    members = [org.worker_a1, org.worker_b, org.recorder]
    day = summary.period_start.replace(day=10)
    sources = NoticeItem.objects.bulk_create(
        NoticeItem(
            notice=notice,
            member=members[n % 3],
            rule_item=rule,
            points=10 + n % 7,
            event_date=day,
            description=f"第{n:03d}行",
            pool_month=summary.period_start,
        )
        for n in range(ROWS)
    )
    SummaryItem.objects.bulk_create(
        SummaryItem(
            summary=summary,
            notice_item=source,
            member_id=source.member_id,
            rule_item=rule,
            quantity=1,
            points=source.points,
            amount=source.points,
            event_date=day,
            description=source.description,
        )
        for source in sources
    )
    return summary


def test_a_long_notice_is_laid_out_in_parts_and_reads_as_one(
    org: Org, long_summary: Summary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publicity_views, "PUBLICITY_ROWS_PER_PART", 20)
    monkeypatch.setattr(pdf_module, "usable_cores", lambda: 3)
    assert may_fork()
    assert len(publicity_notice_parts(summary=long_summary)) == 3

    response = _client(org.worker_b).get(f"/publicity/board/{long_summary.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdftotext(response.content)
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 3
    # Every row once, in the page's order.
    expected = [
        item.description
        for row in publicity_for(summary=long_summary).rows
        for item in row.items
        if item.description.startswith("第")
    ]
    assert re.findall(r"第\d{3}行", text) == expected and len(expected) == ROWS
    # Each page carries the running header and its number of the whole document.
    for number, page in enumerate(pages, 1):
        # a company-wide notice: the organisation, not its top unit's name
        assert f"{org.organisation.name} · {long_summary.period_start:%Y-%m-%d}" in page
        assert org.company.name not in page
        assert re.search(rf"\b{number}\s*/\s*{len(pages)}\s*$", page), page[-300:]
    # The title and the rankings open the first part only; the closing line ends the last.
    assert text.count("积分公示") == 1 and "积分公示" in pages[0]
    closing = [n for n, page in enumerate(pages) if "生成时间" in page]
    assert closing == [len(pages) - 1]
    # Each member's total follows their last row.
    for row in publicity_for(summary=long_summary).rows:
        assert re.search(rf"{re.escape(row.member.name)} · .* {row.total}\b", text)


def test_one_part_when_short_or_when_this_thread_may_not_fork(
    long_summary: Summary, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_module, "usable_cores", lambda: 2)
    assert len(publicity_notice_parts(summary=long_summary)) == 1  # 92 rows < 2 × 250
    monkeypatch.setattr(publicity_views, "PUBLICITY_ROWS_PER_PART", 20)
    assert len(publicity_notice_parts(summary=long_summary)) == 2
    seen: list[bool] = []
    elsewhere = threading.Thread(target=lambda: seen.append(may_fork()))
    elsewhere.start()
    elsewhere.join()
    assert seen == [False]


def test_parts_in_a_thread_are_laid_out_here_and_read_the_same() -> None:
    htmls = ["<p>第一部分</p>", "<p>第二部分</p><p style='break-before: page'>第三页</p>"]
    answers: list[bytes] = []
    worker = threading.Thread(
        target=lambda: answers.append(pdf_from_parts(htmls, page_rule=PUBLICITY_PAGE))
    )
    worker.start()
    worker.join()
    text = _pdftotext(answers[0])
    assert text == _pdftotext(pdf_from_parts(htmls, page_rule=PUBLICITY_PAGE))
    pages = [page for page in text.split("\f") if page.strip()]
    assert ["第一部分" in pages[0], "第二部分" in pages[1], "第三页" in pages[2]] == [True] * 3
    assert [re.sub(r"\s", "", page.strip().splitlines()[-1]) for page in pages] == [
        "1/3",
        "2/3",
        "3/3",
    ]


def _forked_children() -> list[int]:
    """This process's children that are forks of it (same command line), dead or alive."""
    mine = Path("/proc/self/cmdline").read_bytes()
    pids = [
        int(pid)
        for children in Path("/proc/self/task").glob("*/children")
        for pid in children.read_text().split()
    ]
    alive = []
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() in (mine, b""):
                alive.append(pid)
        except OSError:
            continue
    return alive


def test_a_part_that_fails_fails_the_document_and_no_part_outlives_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = pdf_module.pdf_from_html

    def failing(html: str, fetcher: Any = None) -> bytes:
        if "坏" in html:
            raise ValueError("bad part")
        if "慢" in html:
            threading.Event().wait()  # would block for ever: it must be killed
        return real(html, fetcher)

    monkeypatch.setattr(pdf_module, "pdf_from_html", failing)
    with pytest.raises(RuntimeError, match="PDF part failed: ValueError"):
        pdf_from_parts(["<p>好</p>", "<p>坏</p>", "<p>慢</p>"], page_rule=PUBLICITY_PAGE)
    assert _forked_children() == []


def test_a_failing_fork_leaves_no_part_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fork, forks = os.fork, []

    def fork() -> int:
        forks.append(1)
        if len(forks) == 2:
            raise BlockingIOError("no more processes")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(BlockingIOError):
        pdf_from_parts(["<p>一</p>", "<p>二</p>", "<p>三</p>"], page_rule=PUBLICITY_PAGE)
    assert _forked_children() == []


def test_a_part_that_hangs_is_stopped_and_says_where_it_was(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    real = pdf_module.pdf_from_html

    def hanging(html: str, fetcher: Any = None) -> bytes:
        if "慢" in html:
            threading.Event().wait()
        return real(html, fetcher)

    monkeypatch.setattr(pdf_module, "pdf_from_html", hanging)
    monkeypatch.setattr(pdf_module, "PART_TIMEOUT_SECONDS", 2)
    with pytest.raises(RuntimeError, match="took too long"):
        pdf_from_parts(["<p>快</p>", "<p>慢</p>"], page_rule=PUBLICITY_PAGE)
    assert _forked_children() == []
    # before it was killed, the part printed its stack: the log shows where it hung
    stack = capfd.readouterr().err
    assert "in hanging" in stack and "in _child" in stack


def _hold_slots(count: int) -> list[int]:
    """Take ``count`` of the fork slots, as other web workers laying out PDFs would."""
    from django.conf import settings

    held = []
    for slot in range(count):
        fd = os.open(os.path.join(settings.POINTS_PDF_SLOT_DIR, str(slot)), os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(fd)
    return held


@pytest.mark.parametrize(("held", "forks"), [(0, 3), (3, 1), (4, 0)])
def test_no_more_parts_are_forked_than_slots_are_free(
    monkeypatch: pytest.MonkeyPatch, held: int, forks: int
) -> None:
    """4 slots, some held elsewhere: the parts without a slot are laid out here, and the
    document reads the same, in order; every slot is free again afterwards."""
    real_fork, forked = os.fork, []

    def fork() -> int:
        forked.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    htmls = [f"<p>第{n}部分</p>" for n in "一二三四"]
    holding = _hold_slots(held)
    try:
        pdf = pdf_from_parts(htmls, page_rule=PUBLICITY_PAGE)
    finally:
        for fd in holding:
            os.close(fd)
    assert len(forked) == forks
    pages = [page for page in _pdftotext(pdf).split("\f") if page.strip()]
    assert [f"第{n}部分" in page for n, page in zip("一二三四", pages, strict=True)] == [True] * 4
    assert re.sub(r"\s", "", pages[3].strip().splitlines()[-1]) == "4/4"
    for fd in _hold_slots(4):  # none is left taken
        os.close(fd)


def test_urls_refused_in_a_forked_part_are_reported() -> None:
    fetcher = LocalOnlyFetcher()
    pdf = pdf_from_parts(
        ["<p>一</p>", '<p>二</p><img src="http://127.0.0.1:9/x.png">'],
        page_rule=PUBLICITY_PAGE,
        fetcher=fetcher,
    )
    assert pdf.startswith(b"%PDF") and fetcher.refused == ["http://127.0.0.1:9/x.png"]


@pytest.mark.parametrize(
    ("sizes", "parts", "cuts"),
    [
        ([5, 5, 5, 5], 2, [2]),
        ([31, 32, 31], 3, [1, 2]),
        ([1, 1, 1, 1, 1, 1, 1, 1, 50], 3, [8]),
        ([5, 5, 5, 5], 4, [1, 2, 3]),
        ([10, 1, 1, 1], 2, [1]),
        ([1, 1, 1, 10], 2, [3]),
        ([4], 3, []),
        ([], 2, []),
        ([3, 3, 3], 1, []),
    ],
)
def test_parts_are_cut_between_members_at_about_equal_rows(
    sizes: list[int], parts: int, cuts: list[int]
) -> None:
    assert parts_for(sizes, parts) == cuts


def test_parts_laid_out_here_do_not_eat_the_forked_parts_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One slot free of four: part 2 is forked (a large answer, more than a pipe holds),
    parts 1, 3 and 4 are laid out here, slowly. The child's answer is read before parts 3
    and 4 are laid out, so the deadline counts only the layouts side by side."""
    import base64
    import time

    parent, real = os.getpid(), pdf_module.pdf_from_html
    noise = io.BytesIO()
    Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3)).save(noise, "PNG")
    picture = base64.b64encode(noise.getvalue()).decode()

    def slow_here(html: str, fetcher: Any = None) -> bytes:
        if os.getpid() == parent and "部分" in html:
            time.sleep(1.0)
        return real(html, fetcher)

    monkeypatch.setattr(pdf_module, "pdf_from_html", slow_here)
    monkeypatch.setattr(pdf_module, "PART_TIMEOUT_SECONDS", 2.5)
    htmls = [
        "<p>第一部分</p>",
        f'<p>第二页</p><img src="data:image/png;base64,{picture}">',
        "<p>第三部分</p>",
        "<p>第四部分</p>",
    ]
    holding = _hold_slots(3)
    try:
        pdf = pdf_from_parts(htmls, page_rule=PUBLICITY_PAGE)
    finally:
        for fd in holding:
            os.close(fd)
    pages = [page for page in _pdftotext(pdf).split("\f") if page.strip()]
    assert ["第一部分" in pages[0], "第二页" in pages[1], "第四部分" in pages[3]] == [True] * 3
    assert _forked_children() == []


def test_an_unusable_slot_directory_lays_every_part_out_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    """A file where the slot directory should be: no slot, no fork, no error."""
    blocker = tmp_path / "slots"
    blocker.write_text("not a directory")
    settings.POINTS_PDF_SLOT_DIR = str(blocker / "inner")
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked without a slot"))
    pdf = pdf_from_parts(["<p>一</p>", "<p>二</p>"], page_rule=PUBLICITY_PAGE)
    assert [p for p in _pdftotext(pdf).split("\f") if p.strip()][1].strip().startswith("二")


def test_parts_are_forked_where_stderr_is_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under Celery's logging proxy stderr has no file descriptor: a forked part cannot
    register its stack dump, and still lays out its part and ends (it once raised, and ran
    on as a copy of the worker)."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    pdf = pdf_from_parts(["<p>第一部分</p>", "<p>第二部分</p>"], page_rule=PUBLICITY_PAGE)
    pages = [page for page in _pdftotext(pdf).split("\f") if page.strip()]
    assert "第一部分" in pages[0] and "第二部分" in pages[1]
    assert _forked_children() == []
