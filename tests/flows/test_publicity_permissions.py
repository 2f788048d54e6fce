"""Every URL the publicity cycle adds, for each role: allowed (200/302) or denied (403/404).

Roles: anonymous (sent to login), a member in the batch's scope and one outside it, a
leader, HR, the committee, and HR, committee and members of another organisation. A batch
scoped to department A is invisible to department B; a draft is on nobody's board; only
the HR officer who opened a summary prepares it; only the committee of the organisation
signs off, once per round, and claims and rules appeals; appeal evidence goes to those the
appeal concerns; viewflow's own process and task pages never cross organisations."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from viewflow.workflow.status import STATUS

from flows.flows import AppealFlow, SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    ItemStatus,
    SignOff,
    Summary,
    SummaryStatus,
)
from flows.publicity import summary_open, summary_submit
from points.models import CommitteeQuorum, Member
from points.roles import Role
from tests.conftest import Org
from tests.flows.test_declaration_flow import _photo
from tests.flows.test_publicity import (
    APPEAL_START,
    SUMMARY_START,
    _approved,
    _client,
    _open_summary,
    _published,
    _reexamine,
    _sign,
    _submit,
    _task,
    _url,
    rule,
)

__all__ = ["rule"]  # a fixture, imported for pytest to find

pytestmark = pytest.mark.django_db

TASK_ACTIONS = ["", "detail/", "execute/", "assign/", "unassign/", "undo/", "cancel/", "revive/"]
DENIED = (403, 404)


@pytest.fixture
def hr2(org: Org) -> Member:
    """A second HR officer of the organisation, who did not open the summary."""
    return org.member(org.company, "acme-hr2", role=Role.HR)


@pytest.fixture
def who(org: Org, other_org: Org, committee2: Member, hr2: Member) -> Any:
    """``who("leader_b")`` → that member; ``other_…`` is the other organisation's."""

    def _who(name: str) -> Member:
        extra = {"committee2": committee2, "hr2": hr2}
        if name in extra:
            return extra[name]
        if name.startswith("other_"):
            return getattr(other_org, name.removeprefix("other_"))
        return getattr(org, name)

    return _who


def _as(member: Member) -> Client:
    client = _client(member)
    client.raise_request_exception = False  # a 500 is a status to assert, not a crash
    return client


def _safe_redirect(response: Any) -> bool:
    """A redirect that neither asks to log in nor leads to a task's form."""
    location = response.get("Location", "")
    return "/accounts/login/" not in location and "/execute/" not in location


def _denied(response: Any) -> bool:
    if response.status_code == 302:
        return _safe_redirect(response)
    return response.status_code in (*DENIED, 405)


# --- a batch scoped to department A -------------------------------------------------------


@pytest.fixture
def dept_a_batch(org: Org, rule: Any, committee2: Member) -> Summary:
    """Published: HR gathered department A only (worker B's approved item stays in the
    pool)."""
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    response = _client(org.hr).post(SUMMARY_START, {"scope": org.dept_a.pk, "on": "2026-11-20"})
    assert response.status_code == 302, response.content.decode()[:2000]
    summary = Summary.objects.get()
    assert list(summary.items.values_list("member", flat=True)) == [org.worker_a1.pk]
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY
    return summary


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("worker_a1", 200),
        ("leader_a1", 200),
        ("leader_a", 200),
        ("recorder", 200),
        ("hr", 200),
        ("committee", 200),
        ("worker_b", 404),
        ("leader_b", 404),
        ("other_worker_a1", 404),
        ("other_leader_a", 404),
        ("other_hr", 404),
        ("other_committee", 404),
    ],
)
def test_a_batch_scoped_to_department_a_by_role(
    dept_a_batch: Summary, who: Any, name: str, status: int
) -> None:
    client = _as(who(name))
    item = dept_a_batch.items.get()
    assert client.get(f"/publicity/board/{dept_a_batch.pk}/").status_code == status
    pdf = client.get(f"/publicity/board/{dept_a_batch.pk}/pdf/")
    assert pdf.status_code == status
    if status == 200:
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf["Content-Disposition"].startswith("attachment;")
        assert pdf["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"{APPEAL_START}?item={item.pk}").status_code == status
    board = client.get("/publicity/board/")
    assert board.status_code == 200
    listed = f'href="/publicity/board/{dept_a_batch.pk}/"' in board.content.decode()
    assert listed is (status == 200)
    if status == 404:
        response = client.post(APPEAL_START, {"item": item.pk, "reason": "不公平"})
        assert response.status_code == 404
        assert not Appeal.objects.exists()
        item.refresh_from_db()
        assert item.status == ItemStatus.INCLUDED


def test_a_member_in_scope_may_appeal_the_batch(org: Org, dept_a_batch: Summary) -> None:
    item = dept_a_batch.items.get()
    response = _client(org.leader_a).post(APPEAL_START, {"item": item.pk, "reason": "不公平"})
    assert response.status_code == 302
    assert Appeal.objects.get().appellant == org.leader_a


# --- a draft ------------------------------------------------------------------------------


@pytest.fixture
def draft(org: Org, rule: Any) -> Summary:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    summary = _open_summary(org)
    assert summary.status == SummaryStatus.DRAFT
    return summary


@pytest.mark.parametrize(
    "name", ["worker_a1", "leader_a1", "worker_b", "leader_a", "ceo", "hr", "committee"]
)
def test_a_draft_is_on_nobodys_board(draft: Summary, who: Any, name: str) -> None:
    client = _as(who(name))
    item = draft.items.get()
    assert client.get(f"/publicity/board/{draft.pk}/").status_code == 404
    assert client.get(f"/publicity/board/{draft.pk}/pdf/").status_code == 404
    board = client.get("/publicity/board/")
    assert board.status_code == 200
    assert f"/publicity/board/{draft.pk}/" not in board.content.decode()
    # Nobody may appeal an item that is not published: the appeal page is not found.
    page = client.get(f"{APPEAL_START}?item={item.pk}")
    assert page.status_code == 404
    response = client.post(APPEAL_START, {"item": item.pk, "reason": "不公平"})
    assert response.status_code in (200, 404)
    assert not Appeal.objects.exists()


# --- opening and preparing a summary ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("hr", 200),
        ("hr2", 200),
        ("worker_a1", 403),
        ("leader_a", 403),
        ("recorder", 403),
        ("committee", 403),
        ("admin", 403),
        ("other_committee", 403),
        ("other_hr", 200),
    ],
)
def test_summary_start_page_by_role(who: Any, name: str, status: int) -> None:
    assert _as(who(name)).get(SUMMARY_START).status_code == status


@pytest.mark.parametrize("name", ["worker_a1", "leader_a", "committee", "admin"])
def test_nobody_but_hr_opens_a_summary(org: Org, rule: Any, who: Any, name: str) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    response = _as(who(name)).post(SUMMARY_START, {"scope": org.company.pk, "on": "2026-11-20"})
    assert response.status_code == 403
    assert not Summary.objects.exists()


def test_hr_of_another_organisation_cannot_gather_this_one(
    org: Org, other_org: Org, rule: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    response = _as(other_org.hr).post(SUMMARY_START, {"scope": org.company.pk, "on": "2026-11-20"})
    assert response.status_code == 200  # the form refuses a unit it does not offer
    assert not Summary.objects.exists()


def test_the_hr_who_opened_the_summary_prepares_it(org: Org, draft: Summary) -> None:
    task = _task(SummaryFlow, SummaryFlow.prepare)
    assert _as(org.hr).get(_url("/publicity/summary/", task)).status_code == 200


@pytest.mark.parametrize(
    "name", ["hr2", "committee", "worker_a1", "leader_a1", "other_hr", "other_committee"]
)
def test_nobody_else_prepares_the_summary(draft: Summary, who: Any, name: str) -> None:
    task = _task(SummaryFlow, SummaryFlow.prepare)
    item = draft.items.get()
    client = _as(who(name))
    base = f"/publicity/summary/{task.process_id}/prepare/{task.pk}/"
    # HR and the committee of the organisation may follow the process, read-only.
    may_read = name in ("hr2", "committee")
    for action in TASK_ACTIONS:
        page = client.get(base + action)
        if action == "execute/":
            assert page.status_code in DENIED, (name, action, page.status_code)
        elif action in ("", "detail/") and may_read:
            assert page.status_code == 200 or _safe_redirect(page), (name, action)
        else:
            assert _denied(page), (name, action, page.status_code)
        for data in ({"submit": "1"}, {"exclude": "1", "item": item.pk, "reason": "重复"}):
            assert _denied(client.post(base + action, data)), (name, action, data)
    draft.refresh_from_db()
    item.refresh_from_db()
    assert draft.status == SummaryStatus.DRAFT and draft.round == 0
    assert item.status == ItemStatus.INCLUDED
    task.refresh_from_db()
    assert task.owner == draft.created_by and task.status == STATUS.ASSIGNED


# --- sign-off -----------------------------------------------------------------------------


@pytest.fixture
def signing(org: Org, draft: Summary, committee2: Member) -> Summary:
    _submit(org)
    draft.refresh_from_db()
    assert draft.status == SummaryStatus.SIGNOFF
    return draft


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("committee", 200),
        ("committee2", 200),
        ("hr", 403),
        ("worker_a1", 403),
        ("leader_a", 403),
        ("admin", 403),
        ("other_worker_a1", 403),
        ("other_hr", 403),
        ("other_committee", 404),
    ],
)
def test_signoff_page_by_role(signing: Summary, who: Any, name: str, status: int) -> None:
    client = _as(who(name))
    url = f"/publicity/board/signoff/{signing.pk}/"
    assert client.get(url).status_code == status
    listed = url in client.get("/publicity/board/signoff/").content.decode()
    assert listed is (status == 200)
    if status != 200:
        assert client.post(url, {"decision": "approve"}).status_code == status
        assert client.post(url, {"decision": "reject", "reason": "不同意"}).status_code == status
        assert not SignOff.objects.exists()
        signing.refresh_from_db()
        assert signing.status == SummaryStatus.SIGNOFF


def test_a_committee_member_votes_once_a_round(
    org: Org, signing: Summary, committee2: Member
) -> None:
    assert _sign(org.committee, signing).status_code == 302
    for decision, reason in (("approve", ""), ("reject", "改变主意")):
        again = _sign(org.committee, signing, decision, reason)
        assert again.status_code == 200
        assert "您已在本轮表决过。" in again.content.decode()
    assert SignOff.objects.filter(summary=signing, user=org.committee.user).count() == 1
    signing.refresh_from_db()
    assert signing.status == SummaryStatus.SIGNOFF  # the second member has not voted
    url = f"/publicity/board/signoff/{signing.pk}/"
    assert url not in _client(org.committee).get("/publicity/board/signoff/").content.decode()
    assert url in _client(committee2).get("/publicity/board/signoff/").content.decode()


def _vote_list(html: str) -> list[str]:
    """The votes the sign-off page lists, one text each."""
    found = re.search(r'<ul class="pts-list" id="signoff-votes">(.*?)</ul>', html, re.S)
    if found is None:
        return []
    return [" ".join(li.split()) for li in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_the_signoff_page_names_the_voters_and_shows_my_vote_instead_of_the_form(
    org: Org, signing: Summary, committee2: Member
) -> None:
    org.committee.name = "委员甲"
    org.committee.save()
    url = f"/publicity/board/signoff/{signing.pk}/"
    page = _client(org.committee).get(url).content.decode()
    assert 'id="signoff-form"' in page and 'name="decision"' in page
    assert '<span id="signoff-count">0 / 2</span>' in page and _vote_list(page) == []

    assert _sign(org.committee, signing).status_code == 302
    mine = _client(org.committee).get(url).content.decode()
    assert '<span id="signoff-count">1 / 2</span>' in mine
    assert _vote_list(mine) == ["委员甲：签发"]  # the name, not the login
    assert 'id="signoff-form"' not in mine and 'name="decision"' not in mine
    assert "您已在本轮表决：" in mine and "签发" in mine.split('id="signoff-mine"')[1]
    # The form is not offered again, and a vote sent anyway is refused and says why.
    again = _sign(org.committee, signing, "reject", "改变主意")
    assert again.status_code == 200
    assert "您已在本轮表决过。" in again.content.decode()
    assert 'name="decision"' not in again.content.decode()
    assert SignOff.objects.filter(summary=signing, user=org.committee.user).count() == 1

    theirs = _client(committee2).get(url).content.decode()
    assert _vote_list(theirs) == ["委员甲：签发"]
    assert 'id="signoff-form"' in theirs and "您已在本轮表决" not in theirs


def test_a_rejection_is_listed_with_its_reason_by_name(
    org: Org, signing: Summary, committee2: Member
) -> None:
    policy = org.organisation.policy
    policy.committee_quorum = CommitteeQuorum.ANY  # one rejection of two does not decide
    policy.save()
    committee2.name = "委员乙"
    committee2.save()
    assert _sign(committee2, signing, "reject", "<b>金额</b>有误").status_code == 302
    page = _client(org.committee).get(f"/publicity/board/signoff/{signing.pk}/")
    assert _vote_list(page.content.decode()) == ["委员乙：驳回 — &lt;b&gt;金额&lt;/b&gt;有误"]
    assert 'id="signoff-form"' in page.content.decode()  # not this member's vote
    mine = _client(committee2).get(f"/publicity/board/signoff/{signing.pk}/").content.decode()
    assert "您已在本轮表决： 驳回 — &lt;b&gt;金额&lt;/b&gt;有误" in " ".join(mine.split())


# --- appeals ------------------------------------------------------------------------------


@pytest.fixture
def lodged(org: Org, rule: Any, committee2: Member) -> Appeal:
    """Worker B appeals worker A1's published item, with a photo."""
    summary = _published(org, rule, committee2)
    item = summary.items.get(member=org.worker_a1)
    response = _client(org.worker_b).post(
        APPEAL_START, {"item": item.pk, "reason": "并未被采纳", "evidence": _photo()}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    appeal = Appeal.objects.get()
    assert appeal.evidence.count() == 1
    return appeal


@pytest.mark.parametrize(
    "name", ["hr2", "committee", "worker_b", "worker_a1", "leader_b", "other_hr"]
)
def test_only_the_summarys_hr_reexamines(lodged: Appeal, who: Any, name: str) -> None:
    task = _task(AppealFlow, AppealFlow.reexamine)
    client = _as(who(name))
    base = f"/publicity/appeal/{task.process_id}/reexamine/{task.pk}/"
    # Those the appeal concerns, and HR and the committee, may follow it, read-only.
    may_read = name in ("hr2", "committee", "worker_b", "worker_a1")
    for action in TASK_ACTIONS:
        page = client.get(base + action)
        if action == "execute/":
            assert page.status_code in DENIED, (name, action, page.status_code)
        elif action in ("", "detail/") and may_read:
            assert page.status_code == 200 or _safe_redirect(page), (name, action)
        else:
            assert _denied(page), (name, action, page.status_code)
        assert _denied(client.post(base + action, {"findings": "无问题"})), (name, action)
    lodged.refresh_from_db()
    assert lodged.status == AppealStatus.REEXAMINATION and not lodged.findings


def test_the_summarys_hr_reexamines(org: Org, lodged: Appeal) -> None:
    task = _task(AppealFlow, AppealFlow.reexamine)
    assert _as(org.hr).get(_url("/publicity/appeal/", task)).status_code == 200


@pytest.mark.parametrize(
    "name", ["other_committee", "other_hr", "worker_b", "worker_a1", "leader_a", "hr"]
)
def test_only_the_committee_claims_a_ruling(org: Org, lodged: Appeal, who: Any, name: str) -> None:
    _reexamine(org)
    task = _task(AppealFlow, AppealFlow.rule)
    client = _as(who(name))
    base = f"/publicity/appeal/{task.process_id}/rule/{task.pk}/"
    assert client.get(base + "assign/").status_code in DENIED
    assert client.post(base + "assign/").status_code in DENIED
    assert client.get(base + "execute/").status_code in DENIED
    ruling = {"ruling": "cancel", "reason": "不成立"}
    assert client.post(base + "execute/", ruling).status_code in DENIED
    assert f"/rule/{task.pk}/" not in client.get("/publicity/appeal/queue/").content.decode()
    task.refresh_from_db()
    lodged.refresh_from_db()
    assert task.owner is None and task.status == STATUS.NEW
    assert lodged.status == AppealStatus.RULING and not lodged.ruling


@pytest.mark.parametrize("name", ["committee2", "other_committee", "hr"])
def test_only_who_claimed_a_ruling_executes_it(
    org: Org, lodged: Appeal, who: Any, name: str
) -> None:
    _reexamine(org)
    task = _task(AppealFlow, AppealFlow.rule)
    base = f"/publicity/appeal/{task.process_id}/rule/{task.pk}/"
    claimant = _as(org.committee)
    assert claimant.post(base + "assign/").status_code == 302
    client = _as(who(name))
    ruling = {"ruling": "cancel", "reason": "不成立"}
    assert client.get(base + "execute/").status_code in DENIED
    assert client.post(base + "execute/", ruling).status_code in DENIED
    assert client.post(base + "unassign/").status_code in DENIED
    assert client.post(base + "assign/").status_code in DENIED
    task.refresh_from_db()
    lodged.refresh_from_db()
    assert task.owner == org.committee.user and lodged.status == AppealStatus.RULING
    # The one who claimed it rules.
    assert claimant.post(base + "execute/", ruling).status_code == 302
    lodged.refresh_from_db()
    assert lodged.status == AppealStatus.RULED and lodged.ruled_by == org.committee.user


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("worker_b", 200),  # the appellant
        ("worker_a1", 200),  # whose item is appealed
        ("hr", 200),
        ("hr2", 200),
        ("committee", 200),
        ("committee2", 200),
        ("leader_a1", 404),  # approved the item, but the appeal is not theirs
        ("leader_b", 404),
        ("ceo", 404),
        ("other_worker_b", 404),
        ("other_hr", 404),
        ("other_committee", 404),
    ],
)
def test_appeal_evidence_by_role(lodged: Appeal, who: Any, name: str, status: int) -> None:
    evidence = lodged.evidence.get()
    response = _as(who(name)).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == status
    if status == 200:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["Content-Type"] == "image/jpeg"
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8")
        response.close()


# --- viewflow's own pages -----------------------------------------------------------------


def _flow_pages(summary: Summary, appeal: Appeal) -> list[str]:
    """Both processes' pages and every task's detail page (and form, while active)."""
    pages = [f"/publicity/summary/{summary.process_id}/", f"/publicity/appeal/{appeal.process_id}/"]
    for flow, prefix, process_id in (
        (SummaryFlow, "/publicity/summary/", summary.process_id),
        (AppealFlow, "/publicity/appeal/", appeal.process_id),
    ):
        for task in flow.task_class.objects.filter(process_id=process_id):
            pages.append(_url(prefix, task, "detail"))
            if task.status in (STATUS.NEW, STATUS.ASSIGNED) and task.flow_task_type == "HUMAN":
                pages.append(_url(prefix, task))
    return pages


@pytest.mark.parametrize(
    "name", ["other_worker_a1", "other_leader_a", "other_hr", "other_committee", "other_admin"]
)
def test_another_organisation_gets_no_process_or_task_page(
    lodged: Appeal, who: Any, name: str
) -> None:
    client = _as(who(name))
    summary = lodged.item.summary
    pages = _flow_pages(summary, lodged)
    assert len(pages) >= 8
    for url in pages:
        assert client.get(url).status_code in DENIED, url
    for url in (f"/publicity/summary/{summary.process_id}/cancel/",):
        assert client.post(url).status_code in DENIED, url


@pytest.mark.parametrize(
    ("name", "summary_status", "appeal_status"),
    [
        ("worker_b", 200, 200),  # in scope; the appellant
        ("worker_a1", 200, 200),  # in scope; the appealed item is theirs
        ("leader_b", 200, 404),  # in scope; the appeal does not concern them
        ("hr2", 200, 200),
        ("committee2", 200, 200),
    ],
)
def test_process_pages_within_the_organisation(
    lodged: Appeal, who: Any, name: str, summary_status: int, appeal_status: int
) -> None:
    client = _as(who(name))
    summary = lodged.item.summary
    assert client.get(f"/publicity/summary/{summary.process_id}/").status_code == summary_status
    assert client.get(f"/publicity/appeal/{lodged.process_id}/").status_code == appeal_status


@pytest.mark.parametrize("name", ["worker_b", "leader_a"])
def test_a_draft_process_is_not_shown_to_members(draft: Summary, who: Any, name: str) -> None:
    assert _as(who(name)).get(f"/publicity/summary/{draft.process_id}/").status_code == 404


@pytest.mark.parametrize("name", ["other_worker_a1", "other_hr"])
def test_another_organisation_gets_no_process_chart(lodged: Appeal, who: Any, name: str) -> None:
    client = _as(who(name))
    summary = lodged.item.summary
    for url in (
        f"/publicity/summary/{summary.process_id}/chart/",
        f"/publicity/appeal/{lodged.process_id}/chart/",
    ):
        assert client.get(url).status_code in DENIED, url


@pytest.mark.parametrize("name", ["other_worker_a1", "other_hr"])
def test_the_flow_task_lists_show_nothing_of_another_organisation(
    org: Org, lodged: Appeal, who: Any, name: str
) -> None:
    client = _as(who(name))
    summary = lodged.item.summary
    for url, process_id in (
        ("/publicity/summary/tasks/", summary.process_id),
        ("/publicity/appeal/tasks/", lodged.process_id),
    ):
        response = client.get(url)
        if response.status_code == 200:
            body = response.content.decode()
            assert f"#{process_id}/" not in body and org.hr.user.username not in body, url
        else:
            assert response.status_code in DENIED, url


@pytest.mark.parametrize("name", ["other_worker_a1", "other_hr", "other_committee"])
def test_the_lists_show_nothing_of_another_organisation(
    org: Org, rule: Any, lodged: Appeal, who: Any, name: str
) -> None:
    published = lodged.item.summary
    _approved(org, rule, org.leader_a, org.ceo, 50)
    signing = summary_open(user=org.hr.user, scope=org.dept_a, on=date(2026, 11, 20))
    summary_submit(summary=signing, user=org.hr.user)
    client = _as(who(name))
    for url in (
        "/publicity/board/",
        "/publicity/board/signoff/",
        "/publicity/summary/",
        "/publicity/appeal/",
        "/publicity/appeal/queue/",
        "/publicity/summary/inbox/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for pk in (published.pk, signing.pk):
            assert f"/publicity/board/{pk}/" not in body, url
            assert f"/publicity/board/signoff/{pk}/" not in body, url
        assert f"/publicity/appeal/{lodged.process_id}/" not in body, url
        assert "acme-" not in body, url


@pytest.mark.parametrize("name", ["hr", "committee", "worker_b"])
def test_the_summary_and_appeal_lists_link_each_row_to_its_process(
    lodged: Appeal, who: Any, name: str
) -> None:
    client = _as(who(name))
    summary = lodged.item.summary
    for url, link in (
        ("/publicity/summary/", f"/publicity/summary/{summary.process_id}/"),
        ("/publicity/appeal/", f"/publicity/appeal/{lodged.process_id}/"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert link in response.content.decode(), url


def test_an_excluded_item_is_not_shown_to_members(org: Org, rule: Any, committee2: Member) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40, description="内部线索：待查")
    summary = _open_summary(org)
    excluded = summary.items.get(member=org.worker_b)
    task = _task(SummaryFlow, SummaryFlow.prepare)
    data = {"exclude": "1", "item": excluded.pk, "reason": "与上月重复"}
    assert _client(org.hr).post(_url("/publicity/summary/", task), data).status_code == 302
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    client = _as(org.worker_a1)
    assert "内部线索" not in client.get(f"/publicity/board/{summary.pk}/").content.decode()
    assert client.get(f"{APPEAL_START}?item={excluded.pk}").status_code == 404


# --- reports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target", "status"),
    [
        ("worker_a1", "worker_a1", 200),
        ("worker_a1", "worker_b", 404),
        ("leader_a1", "worker_a1", 404),
        ("committee", "worker_a1", 404),
        ("hr", "worker_a1", 200),
        ("other_hr", "worker_a1", 404),
        ("other_worker_a1", "worker_a1", 404),
    ],
)
def test_statement_by_role(who: Any, name: str, target: str, status: int) -> None:
    response = _as(who(name)).get(f"/reports/statement/{who(target).pk}/")
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"] == "application/pdf"
        assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("worker_a1", 403),
        ("leader_a", 403),
        ("recorder", 403),
        ("admin", 403),
        ("hr", 200),
        ("committee", 200),
    ],
)
def test_ranking_by_role(who: Any, name: str, status: int) -> None:
    response = _as(who(name)).get("/reports/ranking/?format=xlsx")
    assert response.status_code == status
    if status == 200:
        assert response["Content-Disposition"].startswith("attachment;")


def test_ranking_of_another_organisations_unit_is_404(org: Org, other_org: Org) -> None:
    response = _as(org.hr).get(f"/reports/ranking/?format=xlsx&unit={other_org.dept_a.pk}")
    assert response.status_code == 404


# --- anonymous ----------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_login(org: Org, lodged: Appeal) -> None:
    summary = lodged.item.summary
    reexamine = _task(AppealFlow, AppealFlow.reexamine)
    urls = [
        "/publicity/",
        "/publicity/board/",
        f"/publicity/board/{summary.pk}/",
        f"/publicity/board/{summary.pk}/pdf/",
        "/publicity/board/signoff/",
        f"/publicity/board/signoff/{summary.pk}/",
        "/publicity/summary/",
        SUMMARY_START,
        *_flow_pages(summary, lodged),
        "/publicity/appeal/",
        f"{APPEAL_START}?item={lodged.item_id}",
        _url("/publicity/appeal/", reexamine),
        f"/evidence/{lodged.evidence.get().pk}/",
        "/reports/statement/",
        f"/reports/statement/{org.worker_a1.pk}/",
        "/reports/statement/form/",
        "/reports/ranking/",
    ]
    client = Client()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"], url
    for url in (f"/publicity/board/signoff/{summary.pk}/", APPEAL_START, SUMMARY_START):
        response = client.post(url, {"decision": "approve", "item": lodged.item_id})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert SignOff.objects.filter(summary=summary).count() == 2
    assert Appeal.objects.count() == 1 and Summary.objects.count() == 1
