"""The whole cycle in a real browser, each role logging in in turn: a member declares with a
photo, the leader approves, HR opens a summary and submits it, two committee members sign it
off, the publicity page and its PDF show the item, another member appeals, HR re-examines, a
committee member claims the ruling from the committee queue and amends it; when the window
closes the amended value reaches the ledger and the member's statement."""

from __future__ import annotations

import io
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows.models import Appeal, AppealStatus, ItemStatus, Summary, SummaryItem, SummaryStatus
from flows.publicity import publicity_close_due
from points.models import EntryKind, LedgerEntry
from points.periods import organisation_today
from points.roles import Role
from points.selectors.ledger import ledger_verify
from tests.conftest import Org
from tests.e2e.conftest import ARTIFACTS, browser_page, login, screenshot, see, settled
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.e2e

DECLARED, AMENDED = 30, 20
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    org = Org("acme")
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    org.member(org.company, "acme-committee2", role=Role.COMMITTEE)
    RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
        evidence_required=True,
    )
    return org


def _submit(page: Any, button: str, leaves: str) -> None:
    """Press a submit button and wait until the browser has left a URL containing
    ``leaves``; on a re-rendered form, fail with the form's errors."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.click(button)
    try:
        page.wait_for_url(lambda url: leaves not in url, timeout=15_000)
    except PlaywrightTimeout:
        errors = page.locator(".pts-errors, .errorlist").all_inner_texts()
        raise AssertionError(f"still on {page.url}: {errors}") from None
    settled(page)


def _open_first_task(page: Any, inbox: str, lands_on: str) -> None:
    page.goto(inbox)
    page.click("table tbody a >> nth=0")
    page.wait_for_url(re.compile(lands_on))
    settled(page)


def _pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["/usr/bin/pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def _photo(tmp_path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "JPEG")
    photo = tmp_path / "idea.jpg"
    photo.write_bytes(buffer.getvalue())
    return photo


def _browse_the_cycle(url: str, org: Org, rule_pk: int, today: date, photo: Path) -> None:
    """Steps 1–8, in the browser only (no ORM here: Playwright runs an event loop)."""
    worker, leader = org.worker_a1.user.username, org.leader_a1.user.username
    hr, appellant = org.hr.user.username, org.worker_b.user.username
    committee = [org.committee.user.username, "acme-committee2"]
    with browser_page(DESKTOP) as page:
        page.set_default_timeout(15_000)

        # 1. The member declares with a photo.
        login(page, url, worker)
        page.goto(f"{url}/declarations/declaration/start/")
        page.select_option("select[name=items-0-rule_item]", str(rule_pk))
        page.fill("input[name=items-0-points]", str(DECLARED))
        page.fill("input[name=items-0-event_date]", today.isoformat())
        page.fill("input[name=items-0-place]", "二号车间")
        page.fill("textarea[name=items-0-description]", "改进包装流程的建议被采纳")
        page.set_input_files("input[name=items-0-evidence][multiple]", str(photo))
        screenshot(page, "publicity/01-declare")
        _submit(page, "form.pts-form button[type=submit]", "/start/")

        # 2. The leader approves from the inbox.
        login(page, url, leader)
        _open_first_task(page, f"{url}/declarations/declaration/inbox/", r".*/review/\d+/execute/$")
        see(page, "改进包装流程的建议被采纳")
        screenshot(page, "publicity/02-review")
        page.check("input[name=action][value=approve]")
        _submit(page, "form.pts-form button[type=submit]", "/execute/")

        # 3. HR opens a summary of the company and submits it for sign-off.
        login(page, url, hr)
        page.goto(f"{url}/publicity/summary/start/")
        page.select_option("select[name=scope]", str(org.company.pk))
        page.fill("input[name=on]", today.isoformat())
        screenshot(page, "publicity/03-summary-start")
        _submit(page, "form.pts-form button[type=submit]", "/start/")
        _open_first_task(page, f"{url}/publicity/summary/inbox/", r".*/prepare/\d+/execute/$")
        see(page, "张三", "合理化建议")
        screenshot(page, "publicity/04-summary-prepare")
        _submit(page, "#submit-form button[type=submit]", "/execute/")

        # 4. Two committee members sign it off.
        for n, username in enumerate(committee, start=1):
            login(page, url, username)
            page.goto(f"{url}/publicity/board/signoff/")
            screenshot(page, f"publicity/05-signoff-list-{n}")
            page.click(".pts-page a[href^='/publicity/board/signoff/']")
            page.wait_for_url(re.compile(r".*/publicity/board/signoff/\d+/$"))
            settled(page)
            page.check("input[name=decision][value=approve]")
            screenshot(page, f"publicity/06-signoff-{n}")
            page.click("form.pts-form button[type=submit]")
            page.wait_for_url(f"{url}/publicity/board/signoff/")
            settled(page)

        # 5. The publicity page shows the item; its PDF notice downloads.
        login(page, url, appellant)
        page.goto(f"{url}/publicity/board/")
        screenshot(page, "publicity/07-board")
        page.click(".pts-page table a[href^='/publicity/board/']")
        page.wait_for_url(re.compile(r".*/publicity/board/\d+/$"))
        settled(page)
        detail = page.url
        # The member's card names them once; its rows are their items.
        row = page.locator("section.pts-publicity-member:has(h2:has-text('张三')) tbody tr")
        assert "合理化建议" in row.inner_text() and str(DECLARED) in row.inner_text()
        screenshot(page, "publicity/08-detail")
        with page.expect_download() as download_info:
            page.click("a[href$='/pdf/']")
        notice = Path(download_info.value.path()).read_bytes()
        assert notice.startswith(b"%PDF"), notice[:64]
        text = _pdftotext(notice)
        assert "张三" in text and "合理化建议" in text and str(DECLARED) in text

        # 6. Another member appeals the item.
        row.locator("a[href*='/publicity/appeal/start/']").click()
        page.wait_for_url(re.compile(r".*/publicity/appeal/start/\?item=\d+$"))
        settled(page)
        page.fill("textarea[name=reason]", "该建议并未在车间实施")
        screenshot(page, "publicity/09-appeal")
        _submit(page, "form.pts-form button[type=submit]", "/appeal/start/")
        assert page.url == detail
        screenshot(page, "publicity/09-appealed")

        # 7. HR re-examines.
        login(page, url, hr)
        _open_first_task(page, f"{url}/publicity/appeal/inbox/", r".*/reexamine/\d+/execute/$")
        see(page, "该建议并未在车间实施")
        page.fill("textarea[name=findings]", "经核查，建议只部分实施")
        screenshot(page, "publicity/10-reexamine")
        _submit(page, "form.pts-form button[type=submit]", "/execute/")

        # 8. A committee member claims the ruling from the queue and amends the points.
        login(page, url, committee[0])
        page.goto(f"{url}/publicity/appeal/queue/")
        screenshot(page, "publicity/11-queue")
        page.click("table tbody a >> nth=0")
        page.wait_for_url(re.compile(r".*/rule/\d+/assign/$"))
        settled(page)
        screenshot(page, "publicity/12-claim")
        page.click("button[name=_continue]")
        page.wait_for_url(re.compile(r".*/rule/\d+/execute/$"))
        settled(page)
        see(page, "经核查，建议只部分实施")
        page.check("input[name=ruling][value=amend]")
        page.fill("input[name=points]", str(AMENDED))
        page.fill("textarea[name=reason]", "只部分实施，按部分采纳计分")
        screenshot(page, "publicity/13-rule")
        _submit(page, "form.pts-form button[type=submit]", "/execute/")
        screenshot(page, "publicity/13-ruled")


def _statement(url: str, username: str, today: date) -> bytes:
    with browser_page(DESKTOP) as page:
        page.set_default_timeout(15_000)
        login(page, url, username)
        page.goto(f"{url}/reports/statement/form/")
        page.select_option("select[name=kind]", "month")
        page.fill("input[name=on]", today.isoformat())
        screenshot(page, "publicity/14-statement-form")
        # The form opts out of Turbo (data-turbo="false"), which would fetch the PDF and drop
        # the non-HTML response; pressing its button downloads the statement.
        with page.expect_download() as download_info:
            page.click("form.pts-filter button[type=submit]")
        download = download_info.value
        assert "kind=month" in download.url and f"on={today.isoformat()}" in download.url
        return Path(download.path()).read_bytes()


def test_declare_sign_off_appeal_amend_and_post(
    live_server: Any, e2e_org: Org, tmp_path: Path
) -> None:
    org = e2e_org
    today = organisation_today(org.organisation)
    rule = org.organisation.rule_items.get(name="合理化建议")

    _browse_the_cycle(live_server.url, org, rule.pk, today, _photo(tmp_path))

    summary = Summary.objects.get()
    item = SummaryItem.objects.get(summary=summary, member=org.worker_a1)
    appeal = Appeal.objects.get(item=item)
    assert summary.status == SummaryStatus.PUBLICITY and summary.window_ends_at is not None
    assert appeal.appellant == org.worker_b and appeal.status == AppealStatus.RULED
    assert appeal.ruling == "amend" and appeal.ruled_points == AMENDED
    assert item.status == ItemStatus.RULED and item.amount == DECLARED
    assert not LedgerEntry.objects.filter(kind=EntryKind.DAILY).exists()

    # 9. The window closes: the same service the command and the beat job run.
    result = publicity_close_due(now=summary.window_ends_at + timedelta(minutes=1))
    assert (result.summaries, result.posted, result.held) == (1, 1, 0)
    summary.refresh_from_db()
    item.refresh_from_db()
    assert summary.status == SummaryStatus.POSTED and item.status == ItemStatus.POSTED

    # 10. The member's statement shows the amended points.
    pdf = _statement(live_server.url, org.worker_a1.user.username, today)
    (ARTIFACTS / "publicity" / "15-statement.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    text = _pdftotext(pdf)
    assert f"+{AMENDED}" in text and f"+{DECLARED}" not in text, text
    base = org.organisation.policy.base_points
    assert str(base + AMENDED) in text, text

    entry = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.DAILY)
    assert entry.amount == AMENDED and item.ledger_entry == entry
    assert ledger_verify() == []
