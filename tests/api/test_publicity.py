"""Summaries, publicity batches and appeals through the API: the real path (API client,
viewflow, database) for each role, the bad inputs with their codes and fields, an
Idempotency-Key on appeals, the lists' query counts, and the whole cycle."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from flows.api.base import task_claim
from flows.flows import AppealFlow, SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    ItemStatus,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.publicity import summary_open
from points.models import EntryKind, LedgerEntry, Member
from points.roles import Role
from points.selectors.ledger import ledger_verify
from tests.api.conftest import V1, codes, fields
from tests.conftest import Org
from tests.flows.test_publicity import (
    _appeal,
    _approved,
    _close_after_window,
    _published,
    _reexamine,
    rule,
)
from tests.flows.test_publicity_queries import (
    TODAY,
    _appeals,
    _crowd,
    _pool,
    _published_batches,
    _summaries,
)

__all__ = ["rule"]  # a fixture, imported for pytest to find

pytestmark = pytest.mark.django_db

SUMMARIES = f"{V1}summaries/"
PUBLICITY = f"{V1}publicity/"
APPEALS = f"{V1}appeals/"


@pytest.fixture
def hr2(org: Org) -> Member:
    """A second HR officer, who did not open the summary."""
    return org.member(org.company, "acme-hr2", role=Role.HR)


@pytest.fixture
def who(org: Org, other_org: Org, hr2: Member) -> Any:
    """``who("leader_b")`` → that member; ``other_…`` is the other organisation's."""

    def _who(name: str) -> Member:
        if name == "hr2":
            return hr2
        if name.startswith("other_"):
            return getattr(other_org, name.removeprefix("other_"))  # type: ignore[no-any-return]
        return getattr(org, name)  # type: ignore[no-any-return]

    return _who


# --- building states through the API -------------------------------------------------------


def _open(api: Any, org: Org, scope: Any = None) -> dict[str, Any]:
    response = api(org.hr).post(
        SUMMARIES,
        {"scope": (scope or org.company).pk, "on": "2026-11-20"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def draft(org: Org, rule: Any, api: Any) -> dict[str, Any]:
    """A summary HR opened through the API over worker A1's (30) and worker B's (40) items."""
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    return _open(api, org)


@pytest.fixture
def signing(org: Org, draft: dict[str, Any], api: Any) -> dict[str, Any]:
    response = api(org.hr).post(f"{SUMMARIES}{draft['id']}/submit/")
    assert response.status_code == 200, response.json()
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def published(org: Org, rule: Any, committee2: Member) -> Summary:
    """Published through the web pages (the API's own path is tested on its own)."""
    return _published(org, rule, committee2)


def _lodge(api: Any, member: Member, item: Any, reason: str = "并未被采纳", **extra: Any) -> Any:
    return api(member).post(APPEALS, {"item": item.pk, "reason": reason}, format="json", **extra)


@pytest.fixture
def lodged(org: Org, published: Summary, api: Any) -> Appeal:
    """Worker B appeals worker A1's published item, through the API."""
    item = published.items.get(member=org.worker_a1)
    assert _lodge(api, org.worker_b, item).status_code == 201
    return Appeal.objects.get()


@pytest.fixture
def ruling(org: Org, lodged: Appeal) -> Appeal:
    """Re-examined by HR: the ruling waits, unclaimed, in the committee's queue."""
    _reexamine(org)
    lodged.refresh_from_db()
    return lodged


def _rule_task(appeal: Appeal) -> Task:
    return Task.objects.get(process_id=appeal.process_id, flow_task=AppealFlow.rule)


def _items(summary: dict[str, Any]) -> dict[int, SummaryItem]:
    return {i.member_id: i for i in SummaryItem.objects.filter(summary_id=summary["id"])}


# --- the whole cycle --------------------------------------------------------------------------


def test_the_whole_cycle_through_the_api(org: Org, rule: Any, committee2: Member, api: Any) -> None:
    """HR opens and submits a summary, two committee members sign, the batch is published,
    a member appeals, HR re-examines, the committee claims and rules; the window closes."""
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    hr = api(org.hr)

    opened = _open(api, org)
    assert opened["status"] == "draft" and opened["item_count"] == 2
    assert opened["open_task"]["step"] == "prepare"
    assert opened["open_task"]["owner"] == org.hr.user.pk
    summary_id = opened["id"]
    summary = Summary.objects.get(pk=summary_id)
    assert summary.process is not None and summary.created_by == org.hr.user
    items = hr.get(f"{SUMMARIES}{summary_id}/items/").json()["results"]
    assert {row["amount"] for row in items} == {30, 40}
    assert all(row["flags"] == [] and row["status"] == "included" for row in items)

    submitted = hr.post(f"{SUMMARIES}{summary_id}/submit/").json()
    assert submitted["status"] == "signoff" and submitted["round"] == 1
    assert submitted["open_task"] is None  # the committee votes; no one claims a task

    waiting = api(org.committee).get(SUMMARIES, {"awaiting_my_vote": "true"}).json()
    assert [row["id"] for row in waiting["results"]] == [summary_id]
    first = api(org.committee).post(
        f"{SUMMARIES}{summary_id}/sign/", {"decision": "approve"}, format="json"
    )
    assert first.status_code == 200 and first.json()["status"] == "signoff"
    assert api(org.committee).get(SUMMARIES, {"awaiting_my_vote": "true"}).json()["count"] == 0
    second = api(committee2).post(
        f"{SUMMARIES}{summary_id}/sign/", {"decision": "approve"}, format="json"
    )
    assert second.status_code == 200, second.json()
    signed = second.json()
    assert signed["status"] == "publicity" and signed["window_ends_at"]
    assert [vote["approve"] for vote in signed["votes"]] == [True, True]
    assert signed["open_task"] is None  # the window's timer runs

    # The batch is on the board of everyone in scope.
    board = api(org.worker_b).get(PUBLICITY).json()
    assert [row["id"] for row in board["results"]] == [summary_id]
    assert board["results"][0]["window_open"] is True
    batch = api(org.worker_b).get(f"{PUBLICITY}{summary_id}/").json()
    assert batch["summary"]["item_count"] == 2
    totals = {row["member"]: row["total"] for row in batch["rows"]}
    assert totals == {org.worker_a1.pk: 30, org.worker_b.pk: 40}
    assert [row["member"] for row in batch["top"]["members"]] == [
        org.worker_b.pk,
        org.worker_a1.pk,
    ]
    item_id = next(
        row["items"][0]["id"] for row in batch["rows"] if row["member"] == org.worker_a1.pk
    )

    # Worker B appeals worker A1's item; it is held.
    lodged = api(org.worker_b).post(
        APPEALS, {"item": item_id, "reason": "并未被采纳"}, format="json"
    )
    assert lodged.status_code == 201, lodged.json()
    appeal = lodged.json()
    assert appeal["status"] == "reexamination" and appeal["item_status"] == "held"
    assert appeal["open_task"]["step"] == "reexamine"
    assert appeal["open_task"]["owner"] == org.hr.user.pk
    assert Appeal.objects.get(pk=appeal["id"]).process is not None

    reexamined = hr.post(
        f"{APPEALS}{appeal['id']}/reexamine/", {"findings": "经核查，部分采纳"}, format="json"
    )
    assert reexamined.status_code == 200, reexamined.json()
    task = reexamined.json()["open_task"]
    assert reexamined.json()["status"] == "ruling"
    assert task["step"] == "rule" and task["status"] == "NEW" and task["owner"] is None

    # The ruling waits in the committee's queue: claim it, then rule.
    committee = api(org.committee)
    unclaimed = committee.post(
        f"{APPEALS}{appeal['id']}/rule/",
        {"ruling": "amend", "points": 20, "reason": "部分采纳"},
        format="json",
    )
    assert unclaimed.status_code == 409 and codes(unclaimed) == ["task_not_claimed"]
    task_claim(task_id=task["id"], user=org.committee.user)
    ruled = committee.post(
        f"{APPEALS}{appeal['id']}/rule/",
        {"ruling": "amend", "points": 20, "reason": "部分采纳"},
        format="json",
    )
    assert ruled.status_code == 200, ruled.json()
    body = ruled.json()
    assert body["status"] == "ruled" and body["ruling"] == "amend" and body["ruled_points"] == 20
    assert body["item_status"] == "ruled" and body["open_task"] is None

    _close_after_window(summary)
    entry = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.DAILY)
    assert entry.amount == 20
    assert LedgerEntry.objects.get(member=org.worker_b, kind=EntryKind.DAILY).amount == 40
    assert ledger_verify() == []
    summary.refresh_from_db()
    assert summary.process.finished is not None
    assert Appeal.objects.get(pk=appeal["id"]).process.finished is not None


# --- summaries: opening -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["worker_a1", "leader_a", "committee", "recorder"])
def test_only_hr_opens_a_summary(org: Org, rule: Any, api: Any, name: str) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    response = api(getattr(org, name)).post(
        SUMMARIES, {"scope": org.company.pk, "on": "2026-11-20"}, format="json"
    )
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert not Summary.objects.exists()
    assert not Process.objects.filter(flow_class=SummaryFlow).exists()


def test_opening_a_summary_refuses_bad_input(org: Org, other_org: Org, rule: Any, api: Any) -> None:
    hr = api(org.hr)
    # Nothing in the pool: the service's refusal, and no process is left behind.
    empty = hr.post(SUMMARIES, {"scope": org.company.pk}, format="json")
    assert empty.status_code == 400 and codes(empty) == ["invalid"] and fields(empty) == [None]
    assert "pending pool" in empty.json()["errors"][0]["message"]
    assert not Process.objects.filter(flow_class=SummaryFlow).exists()
    # A unit of another organisation, a missing scope, a bad date.
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    foreign = hr.post(SUMMARIES, {"scope": other_org.company.pk}, format="json")
    assert foreign.status_code == 400 and codes(foreign) == ["does_not_exist"]
    assert fields(foreign) == ["scope"]
    missing = hr.post(SUMMARIES, {"on": "2026-11-20"}, format="json")
    assert codes(missing) == ["required"] and fields(missing) == ["scope"]
    bad_date = hr.post(SUMMARIES, {"scope": org.company.pk, "on": "20.11.2026"}, format="json")
    assert codes(bad_date) == ["invalid"] and fields(bad_date) == ["on"]
    assert not Summary.objects.exists()
    # HR of another organisation cannot gather this one.
    other = api(other_org.hr).post(SUMMARIES, {"scope": org.company.pk}, format="json")
    assert other.status_code == 400 and fields(other) == ["scope"]


def test_opening_a_summary_is_idempotent(org: Org, rule: Any, api: Any) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    hr = api(org.hr)
    body = {"scope": org.company.pk, "on": "2026-11-20"}
    first = hr.post(SUMMARIES, body, format="json", HTTP_IDEMPOTENCY_KEY="open-nov")
    again = hr.post(SUMMARIES, body, format="json", HTTP_IDEMPOTENCY_KEY="open-nov")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Summary.objects.count() == 1
    assert Process.objects.filter(flow_class=SummaryFlow).count() == 1


# --- summaries: who sees them ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("hr", True),
        ("hr2", True),
        ("committee", True),
        ("worker_a1", False),
        ("leader_a", False),
        ("ceo", False),
        ("other_hr", False),
        ("other_committee", False),
    ],
)
def test_a_draft_by_role(
    draft: dict[str, Any],
    api: Any,
    name: str,
    visible: bool,
    who: Any,
) -> None:
    member = who(name)
    client = api(member)
    listed = [row["id"] for row in client.get(SUMMARIES).json()["results"]]
    detail = client.get(f"{SUMMARIES}{draft['id']}/")
    assert (listed == [draft["id"]]) is visible
    assert detail.status_code == (200 if visible else 404)


def test_a_published_summary_is_seen_in_scope(
    org: Org, other_org: Org, published: Summary, api: Any
) -> None:
    member = api(org.worker_b).get(f"{SUMMARIES}{published.pk}/")
    assert member.status_code == 200 and member.json()["status"] == "publicity"
    # The committee's votes are for HR and the committee, as on the web.
    assert member.json()["votes"] == []
    assert len(api(org.hr).get(f"{SUMMARIES}{published.pk}/").json()["votes"]) == 2
    assert api(other_org.worker_b).get(f"{SUMMARIES}{published.pk}/").status_code == 404


def test_summary_items_and_flags_for_hr_and_the_committee(
    org: Org, other_org: Org, published: Summary, api: Any
) -> None:
    SummaryItem.objects.filter(member=org.worker_b).update(flags=["duplicate", "veto"])
    url = f"{SUMMARIES}{published.pk}/items/"
    for member in (org.hr, org.committee):
        rows = api(member).get(url).json()["results"]
        assert {row["member"]: row["flags"] for row in rows} == {
            org.worker_a1.pk: [],
            org.worker_b.pk: ["duplicate", "veto"],
        }
    flagged = api(org.hr).get(url, {"flagged": "true"}).json()["results"]
    assert [row["member"] for row in flagged] == [org.worker_b.pk]
    assert "one-vote veto" in " ".join(flagged[0]["flag_labels"])
    vetoed = api(org.hr).get(url, {"flag": "veto"}).json()["results"]
    assert [row["member"] for row in vetoed] == [org.worker_b.pk]
    assert api(org.hr).get(url, {"flag": "cap"}).json()["count"] == 0
    assert api(org.hr).get(url, {"flagged": "false"}).json()["count"] == 1
    assert api(org.hr).get(url, {"member": org.worker_a1.pk}).json()["count"] == 1
    assert api(org.hr).get(SUMMARIES, {"scope": org.company.pk}).json()["count"] == 1
    assert api(org.hr).get(SUMMARIES, {"scope": org.dept_a.pk}).json()["count"] == 0
    # A member in scope sees the batch (publicity) but not HR's flags; outsiders see nothing.
    denied = api(org.worker_b).get(url)
    assert denied.status_code == 403 and codes(denied) == ["permission_denied"]
    assert api(other_org.hr).get(url).status_code == 404
    assert api(org.hr).get(f"{SUMMARIES}{10**9}/items/").status_code == 404


# --- summaries: preparing -----------------------------------------------------------------------


def test_hr_excludes_an_item(org: Org, draft: dict[str, Any], api: Any) -> None:
    item = _items(draft)[org.worker_b.pk]
    url = f"{SUMMARIES}{draft['id']}/exclude/"
    hr = api(org.hr)
    no_reason = hr.post(url, {"item": item.pk}, format="json")
    assert no_reason.status_code == 400 and codes(no_reason) == ["required"]
    assert fields(no_reason) == ["reason"]
    blank = hr.post(url, {"item": item.pk, "reason": "  "}, format="json")
    assert codes(blank) == ["blank"] and fields(blank) == ["reason"]
    foreign = hr.post(url, {"item": 10**9, "reason": "重复"}, format="json")
    assert codes(foreign) == ["does_not_exist"] and fields(foreign) == ["item"]
    item.refresh_from_db()
    assert item.status == ItemStatus.INCLUDED

    response = hr.post(url, {"item": item.pk, "reason": "与上月重复"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["item_count"] == 1
    item.refresh_from_db()
    assert item.status == ItemStatus.EXCLUDED and item.excluded_reason == "与上月重复"
    # Still being prepared: the task is open and HR's.
    assert response.json()["open_task"]["step"] == "prepare"
    again = hr.post(url, {"item": item.pk, "reason": "再次"}, format="json")
    assert codes(again) == ["does_not_exist"] and fields(again) == ["item"]


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("hr2", 403),
        ("committee", 403),
        ("worker_b", 404),
        ("leader_b", 404),
        ("other_hr", 404),
    ],
)
def test_only_the_summarys_hr_prepares_it(
    org: Org,
    draft: dict[str, Any],
    api: Any,
    name: str,
    status: int,
    who: Any,
) -> None:
    member = who(name)
    item = _items(draft)[org.worker_b.pk]
    client = api(member)
    excluded = client.post(
        f"{SUMMARIES}{draft['id']}/exclude/", {"item": item.pk, "reason": "x"}, format="json"
    )
    submitted = client.post(f"{SUMMARIES}{draft['id']}/submit/")
    assert excluded.status_code == submitted.status_code == status
    summary = Summary.objects.get()
    item.refresh_from_db()
    assert summary.status == SummaryStatus.DRAFT and item.status == ItemStatus.INCLUDED


def test_a_submitted_summary_is_no_longer_prepared(
    org: Org, signing: dict[str, Any], api: Any
) -> None:
    assert signing["status"] == "signoff"
    hr = api(org.hr)
    again = hr.post(f"{SUMMARIES}{signing['id']}/submit/")
    assert again.status_code == 409 and codes(again) == ["task_not_available"]
    item = _items(signing)[org.worker_b.pk]
    late = hr.post(
        f"{SUMMARIES}{signing['id']}/exclude/", {"item": item.pk, "reason": "x"}, format="json"
    )
    assert late.status_code == 409 and codes(late) == ["task_not_available"]


def test_submitting_with_every_item_excluded_is_refused(
    org: Org, draft: dict[str, Any], api: Any
) -> None:
    hr = api(org.hr)
    for item in _items(draft).values():
        response = hr.post(
            f"{SUMMARIES}{draft['id']}/exclude/", {"item": item.pk, "reason": "重复"}, format="json"
        )
        assert response.status_code == 200
    refused = hr.post(f"{SUMMARIES}{draft['id']}/submit/")
    assert refused.status_code == 400 and codes(refused) == ["invalid"]
    assert "nothing to sign off" in refused.json()["errors"][0]["message"]
    assert Summary.objects.get().status == SummaryStatus.DRAFT
    assert Task.objects.get(flow_task=SummaryFlow.prepare).status == STATUS.ASSIGNED


# --- summaries: sign-off ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [("hr", 403), ("worker_a1", 403), ("ceo", 403), ("other_committee", 404)],
)
def test_only_the_committee_signs(
    signing: dict[str, Any],
    api: Any,
    name: str,
    status: int,
    who: Any,
) -> None:
    member = who(name)
    response = api(member).post(
        f"{SUMMARIES}{signing['id']}/sign/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == status
    assert not SignOff.objects.exists()


def test_sign_off_refuses_bad_input_and_a_second_vote(
    org: Org, committee2: Member, signing: dict[str, Any], api: Any
) -> None:
    url = f"{SUMMARIES}{signing['id']}/sign/"
    committee = api(org.committee)
    no_reason = committee.post(url, {"decision": "reject"}, format="json")
    assert no_reason.status_code == 400 and codes(no_reason) == ["required"]
    assert fields(no_reason) == ["reason"]
    bad = committee.post(url, {"decision": "maybe"}, format="json")
    assert codes(bad) == ["invalid_choice"] and fields(bad) == ["decision"]
    assert not SignOff.objects.exists()
    assert committee.post(url, {"decision": "approve"}, format="json").status_code == 200
    twice = committee.post(url, {"decision": "approve"}, format="json")
    assert twice.status_code == 400 and "already signed" in twice.json()["errors"][0]["message"]
    assert SignOff.objects.count() == 1


def test_a_rejection_returns_the_summary_to_hr(
    org: Org, committee2: Member, signing: dict[str, Any], api: Any
) -> None:
    response = api(org.committee).post(
        f"{SUMMARIES}{signing['id']}/sign/",
        {"decision": "reject", "reason": "证据不足"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "draft" and "证据不足" in body["rejection_reasons"]
    assert body["open_task"]["step"] == "prepare"
    # HR prepares again and resubmits: round two.
    resubmitted = api(org.hr).post(f"{SUMMARIES}{signing['id']}/submit/")
    assert resubmitted.status_code == 200 and resubmitted.json()["round"] == 2
    # Signing a summary that is not waiting for sign-off.
    for member in (org.committee, committee2):
        vote = api(member).post(
            f"{SUMMARIES}{signing['id']}/sign/", {"decision": "approve"}, format="json"
        )
        assert vote.status_code == 200
    late = api(org.committee).post(
        f"{SUMMARIES}{signing['id']}/sign/", {"decision": "approve"}, format="json"
    )
    assert late.status_code == 400 and "not waiting" in late.json()["errors"][0]["message"]


# --- publicity batches -----------------------------------------------------------------------


@pytest.fixture
def dept_a_batch(org: Org, rule: Any, committee2: Member, api: Any) -> Summary:
    """Published: HR gathered department A only."""
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    opened = _open(api, org, scope=org.dept_a)
    assert api(org.hr).post(f"{SUMMARIES}{opened['id']}/submit/").status_code == 200
    for member in (org.committee, committee2):
        api(member).post(f"{SUMMARIES}{opened['id']}/sign/", {"decision": "approve"}, format="json")
    summary = Summary.objects.get()
    assert summary.status == SummaryStatus.PUBLICITY
    return summary


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("worker_a1", True),
        ("leader_a", True),
        ("ceo", True),
        ("hr", True),
        ("committee", True),
        ("worker_b", False),
        ("leader_b", False),
        ("other_worker_a1", False),
        ("other_hr", False),
    ],
)
def test_a_batch_of_department_a_by_role(
    org: Org,
    dept_a_batch: Summary,
    api: Any,
    name: str,
    visible: bool,
    who: Any,
) -> None:
    member = who(name)
    client = api(member)
    listed = [row["id"] for row in client.get(PUBLICITY).json()["results"]]
    assert (listed == [dept_a_batch.pk]) is visible
    detail = client.get(f"{PUBLICITY}{dept_a_batch.pk}/")
    assert detail.status_code == (200 if visible else 404)
    if visible:
        rows = detail.json()["rows"]
        assert [(row["member"], row["total"]) for row in rows] == [(org.worker_a1.pk, 30)]
    else:
        assert codes(detail) == ["not_found"]


def test_a_draft_is_not_on_the_board(org: Org, draft: dict[str, Any], api: Any) -> None:
    for member in (org.hr, org.committee, org.worker_a1):
        assert api(member).get(PUBLICITY).json()["count"] == 0
        assert api(member).get(f"{PUBLICITY}{draft['id']}/").status_code == 404


def test_an_excluded_item_is_not_on_the_board(
    org: Org, rule: Any, committee2: Member, api: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    opened = _open(api, org)
    excluded = _items(opened)[org.worker_b.pk]
    api(org.hr).post(
        f"{SUMMARIES}{opened['id']}/exclude/",
        {"item": excluded.pk, "reason": "重复"},
        format="json",
    )
    api(org.hr).post(f"{SUMMARIES}{opened['id']}/submit/")
    for member in (org.committee, committee2):
        api(member).post(f"{SUMMARIES}{opened['id']}/sign/", {"decision": "approve"}, format="json")
    batch = api(org.worker_a1).get(f"{PUBLICITY}{opened['id']}/").json()
    assert [row["member"] for row in batch["rows"]] == [org.worker_a1.pk]
    assert batch["summary"]["item_count"] == 1
    # Nor may it be appealed.
    refused = _lodge(api, org.worker_a1, excluded)
    assert refused.status_code == 400 and fields(refused) == ["item"]


# --- appeals: lodging ---------------------------------------------------------------------------


def test_an_appeal_holds_the_item(org: Org, published: Summary, api: Any) -> None:
    item = published.items.get(member=org.worker_a1)
    response = _lodge(api, org.worker_b, item)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["item"] == item.pk and body["summary"] == published.pk
    assert body["appellant"] == org.worker_b.pk and body["member"] == org.worker_a1.pk
    item.refresh_from_db()
    assert item.status == ItemStatus.HELD
    board = api(org.worker_a1).get(f"{PUBLICITY}{published.pk}/").json()
    held = [i["status"] for row in board["rows"] for i in row["items"] if i["id"] == item.pk]
    assert held == ["held"]
    assert api(org.worker_a1).get(PUBLICITY).json()["results"][0]["open_appeals"] == 1


def test_an_appeal_refuses_bad_input(
    org: Org, other_org: Org, published: Summary, api: Any
) -> None:
    item = published.items.get(member=org.worker_a1)
    no_reason = api(org.worker_b).post(APPEALS, {"item": item.pk}, format="json")
    assert no_reason.status_code == 400 and codes(no_reason) == ["required"]
    assert fields(no_reason) == ["reason"]
    blank = _lodge(api, org.worker_b, item, reason="   ")
    assert codes(blank) == ["blank"] and fields(blank) == ["reason"]
    no_item = api(org.worker_b).post(APPEALS, {"reason": "x"}, format="json")
    assert codes(no_item) == ["required"] and fields(no_item) == ["item"]
    # An item of another organisation's batch does not exist for this caller.
    outsider = _lodge(api, other_org.worker_b, item)
    assert outsider.status_code == 400 and codes(outsider) == ["does_not_exist"]
    assert fields(outsider) == ["item"]
    assert not Appeal.objects.exists()
    # Once under appeal, no second appeal until the ruling.
    assert _lodge(api, org.worker_b, item).status_code == 201
    twice = _lodge(api, org.ceo, item)
    assert twice.status_code == 400 and codes(twice) == ["not_appealable"]
    assert (
        fields(twice) == ["item"] and "already under appeal" in twice.json()["errors"][0]["message"]
    )


def test_an_appeal_after_the_window_is_refused(org: Org, published: Summary, api: Any) -> None:
    item = published.items.get(member=org.worker_a1)
    assert published.window_ends_at is not None
    with time_machine.travel(published.window_ends_at + timedelta(seconds=1), tick=False):
        late = _lodge(api, org.worker_b, item)
        board = api(org.worker_b).get(PUBLICITY).json()["results"][0]
    assert late.status_code == 400 and codes(late) == ["not_appealable"]
    assert fields(late) == ["item"] and "window closed" in late.json()["errors"][0]["message"]
    assert board["window_open"] is False
    assert (
        not Appeal.objects.exists() and not Process.objects.filter(flow_class=AppealFlow).exists()
    )
    item.refresh_from_db()
    assert item.status == ItemStatus.INCLUDED


def test_an_appeal_in_chinese(org: Org, published: Summary, api: Any) -> None:
    item = published.items.get(member=org.worker_a1)
    assert published.window_ends_at is not None
    with time_machine.travel(published.window_ends_at + timedelta(seconds=1), tick=False):
        late = api(org.worker_b, lang="zh-hans").post(
            APPEALS, {"item": item.pk, "reason": "x"}, format="json"
        )
    assert "公示期已于" in late.json()["errors"][0]["message"]


def test_an_idempotency_key_replays_an_appeal(org: Org, published: Summary, api: Any) -> None:
    item = published.items.get(member=org.worker_a1)
    client = api(org.worker_b)
    body = {"item": item.pk, "reason": "并未被采纳"}
    first = client.post(APPEALS, body, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1")
    replay = client.post(APPEALS, body, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert Appeal.objects.count() == 1
    assert Process.objects.filter(flow_class=AppealFlow).count() == 1
    other = client.post(
        APPEALS, {**body, "reason": "另一个理由"}, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1"
    )
    assert other.status_code == 409 and codes(other) == ["idempotency_conflict"]
    assert Appeal.objects.count() == 1
    # Keys are per user: the same key from someone else is a new request (refused here
    # because the item is already under appeal).
    elsewhere = api(org.ceo).post(APPEALS, body, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1")
    assert elsewhere.status_code == 400 and codes(elsewhere) == ["not_appealable"]


def test_an_appeal_with_evidence(org: Org, published: Summary, api: Any) -> None:
    item = published.items.get(member=org.worker_a1)
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "JPEG")
    photo = SimpleUploadedFile("scene.jpg", out.getvalue(), content_type="image/jpeg")
    text = SimpleUploadedFile("notes.txt", b"plain text", content_type="text/plain")
    client = api(org.worker_b)
    refused = client.post(
        APPEALS, {"item": item.pk, "reason": "见照片", "evidence": [text]}, format="multipart"
    )
    assert refused.status_code == 400 and fields(refused) == ["evidence"]
    assert "notes.txt" in refused.json()["errors"][0]["message"]
    response = client.post(
        APPEALS, {"item": item.pk, "reason": "见照片", "evidence": [photo]}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    evidence = response.json()["evidence"]
    assert [(e["original_name"], e["content_type"]) for e in evidence] == [
        ("scene.jpg", "image/jpeg")
    ]
    assert Appeal.objects.get().evidence.get().uploaded_by == org.worker_b.user


# --- appeals: who sees them --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("worker_b", True),  # the appellant
        ("worker_a1", True),  # whose item it is
        ("hr", True),
        ("committee", True),
        ("leader_a", False),
        ("ceo", False),
        ("other_hr", False),
        ("other_committee", False),
    ],
)
def test_an_appeal_by_role(
    lodged: Appeal,
    api: Any,
    name: str,
    visible: bool,
    who: Any,
) -> None:
    member = who(name)
    client = api(member)
    listed = [row["id"] for row in client.get(APPEALS).json()["results"]]
    assert (listed == [lodged.pk]) is visible
    assert client.get(f"{APPEALS}{lodged.pk}/").status_code == (200 if visible else 404)


def test_appeal_filters(org: Org, other_org: Org, lodged: Appeal, api: Any) -> None:
    other_summary = _summaries(other_org, 1, SummaryStatus.PUBLICITY)[0]
    hr = api(org.hr)
    assert hr.get(APPEALS, {"status": "reexamination"}).json()["count"] == 1
    assert hr.get(APPEALS, {"status": "ruled"}).json()["count"] == 0
    assert hr.get(APPEALS, {"summary": lodged.item.summary_id}).json()["count"] == 1
    bad = hr.get(APPEALS, {"status": "nonsense"})
    assert bad.status_code == 400 and fields(bad) == ["status"]
    # Another organisation's summary, or a number beyond any id, is not a choice.
    for summary in (other_summary.pk, 10**30):
        refused = hr.get(APPEALS, {"summary": summary})
        assert refused.status_code == 400 and codes(refused) == ["invalid_choice"]
        assert fields(refused) == ["summary"]


# --- appeals: re-examination and ruling -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("worker_b", 403),
        ("worker_a1", 403),
        ("committee", 403),
        ("hr2", 403),
        ("leader_a", 404),
        ("other_hr", 404),
    ],
)
def test_only_the_summarys_hr_reexamines(
    lodged: Appeal,
    api: Any,
    name: str,
    status: int,
    who: Any,
) -> None:
    member = who(name)
    response = api(member).post(
        f"{APPEALS}{lodged.pk}/reexamine/", {"findings": "查无实据"}, format="json"
    )
    assert response.status_code == status
    lodged.refresh_from_db()
    assert lodged.status == AppealStatus.REEXAMINATION and not lodged.findings


def test_reexamination_needs_findings_and_happens_once(org: Org, lodged: Appeal, api: Any) -> None:
    hr = api(org.hr)
    url = f"{APPEALS}{lodged.pk}/reexamine/"
    missing = hr.post(url, {}, format="json")
    assert missing.status_code == 400 and codes(missing) == ["required"]
    assert fields(missing) == ["findings"]
    # Ruling before the re-examination: not at that step.
    early = api(org.committee).post(
        f"{APPEALS}{lodged.pk}/rule/", {"ruling": "uphold", "reason": "x"}, format="json"
    )
    assert early.status_code == 409 and codes(early) == ["task_not_available"]
    done = hr.post(url, {"findings": "查无实据"}, format="json")
    assert done.status_code == 200 and done.json()["findings"] == "查无实据"
    again = hr.post(url, {"findings": "再查"}, format="json")
    assert again.status_code == 409 and codes(again) == ["task_not_available"]


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("committee", 409, "task_not_claimed"),  # in the queue: claim it first
        ("hr", 403, "permission_denied"),
        ("worker_b", 403, "permission_denied"),
        ("other_committee", 404, "not_found"),
    ],
)
def test_an_unclaimed_ruling_by_role(
    ruling: Appeal,
    api: Any,
    name: str,
    status: int,
    code: str,
    who: Any,
) -> None:
    member = who(name)
    response = api(member).post(
        f"{APPEALS}{ruling.pk}/rule/", {"ruling": "uphold", "reason": "维持"}, format="json"
    )
    assert response.status_code == status and codes(response) == [code]
    assert Appeal.objects.get().status == AppealStatus.RULING


def test_only_who_claimed_the_ruling_rules(
    org: Org, committee2: Member, ruling: Appeal, api: Any
) -> None:
    task_claim(task_id=_rule_task(ruling).pk, user=committee2.user)
    body = {"ruling": "uphold", "reason": "维持"}
    other = api(org.committee).post(f"{APPEALS}{ruling.pk}/rule/", body, format="json")
    assert other.status_code == 403 and codes(other) == ["permission_denied"]
    shown = api(org.committee).get(f"{APPEALS}{ruling.pk}/").json()["open_task"]
    assert shown["status"] == "ASSIGNED" and shown["owner"] == committee2.user.pk
    response = api(committee2).post(f"{APPEALS}{ruling.pk}/rule/", body, format="json")
    assert response.status_code == 200 and response.json()["ruling"] == "uphold"
    twice = api(committee2).post(f"{APPEALS}{ruling.pk}/rule/", body, format="json")
    assert twice.status_code == 409 and codes(twice) == ["task_not_available"]


def test_a_ruling_refuses_bad_input(org: Org, ruling: Appeal, api: Any) -> None:
    task_claim(task_id=_rule_task(ruling).pk, user=org.committee.user)
    client = api(org.committee)
    url = f"{APPEALS}{ruling.pk}/rule/"
    no_points = client.post(url, {"ruling": "amend", "reason": "部分采纳"}, format="json")
    assert no_points.status_code == 400 and codes(no_points) == ["required"]
    assert fields(no_points) == ["points"]
    out_of_range = client.post(
        url, {"ruling": "amend", "points": 500, "reason": "部分采纳"}, format="json"
    )
    assert out_of_range.status_code == 400 and fields(out_of_range) == [None]
    assert "10 to 100" in out_of_range.json()["errors"][0]["message"]
    negative = client.post(url, {"ruling": "amend", "points": -5, "reason": "x"}, format="json")
    assert codes(negative) == ["min_value"] and fields(negative) == ["points"]
    bad = client.post(url, {"ruling": "overturn", "reason": "x"}, format="json")
    assert codes(bad) == ["invalid_choice"] and fields(bad) == ["ruling"]
    no_reason = client.post(url, {"ruling": "cancel"}, format="json")
    assert codes(no_reason) == ["required"] and fields(no_reason) == ["reason"]
    assert Appeal.objects.get().status == AppealStatus.RULING
    # The task is still the committee member's: a good ruling now goes through.
    cancel = client.post(url, {"ruling": "cancel", "reason": "查无此事"}, format="json")
    assert cancel.status_code == 200 and cancel.json()["item_status"] == "cancelled"


def test_nobody_rules_on_an_appeal_about_themselves(
    org: Org, rule: Any, committee2: Member, api: Any
) -> None:
    _approved(org, rule, committee2, org.ceo, 30)
    opened = _open(api, org)
    api(org.hr).post(f"{SUMMARIES}{opened['id']}/submit/")
    for member in (org.committee, committee2):
        api(member).post(f"{SUMMARIES}{opened['id']}/sign/", {"decision": "approve"}, format="json")
    item = SummaryItem.objects.get()
    assert _lodge(api, org.worker_b, item).status_code == 201
    _reexamine(org)
    appeal = Appeal.objects.get()
    with pytest.raises(PermissionDenied):  # nor takes its ruling from the queue
        task_claim(task_id=_rule_task(appeal).pk, user=committee2.user)
    response = api(committee2).post(
        f"{APPEALS}{appeal.pk}/rule/", {"ruling": "uphold", "reason": "维持"}, format="json"
    )
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert Appeal.objects.get().status == AppealStatus.RULING


def test_the_web_and_the_api_lodge_alike(org: Org, published: Summary, api: Any) -> None:
    """An appeal lodged on the web page is the API's to re-examine, and the other way."""
    item = published.items.get(member=org.worker_a1)
    assert _appeal(org.worker_b, item).status_code == 302
    appeal = Appeal.objects.get()
    response = api(org.hr).post(
        f"{APPEALS}{appeal.pk}/reexamine/", {"findings": "查无实据"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "ruling"


# --- query counts -----------------------------------------------------------------------------


def _count(client: Any, url: str, expected: int) -> int:
    client.get(url)  # warm per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"page_size": 200})
    assert response.status_code == 200
    assert response.json()["count"] == expected
    return len(queries)


def _with_processes(records: list[Any], flow: Any, node: Any, owner: Any) -> None:
    """Give bulk-made records a process with one open task, as the flow would."""
    for record in records:
        process = Process.objects.create(flow_class=flow)
        Task.objects.create(process=process, flow_task=node, status=STATUS.ASSIGNED, owner=owner)
        record.process = process
        record.save(update_fields=["process"])


def test_the_summary_list_costs_the_same_for_few_and_many(org: Org, api: Any) -> None:
    client = api(org.hr)
    few = _summaries(org, 2, SummaryStatus.SIGNOFF)
    _with_processes(few, SummaryFlow, SummaryFlow.signoff, None)
    SignOff.objects.bulk_create(
        [SignOff(summary=s, user=org.committee.user, round=1, approve=True) for s in few]
    )
    small = _count(client, SUMMARIES, 2)
    many = Summary.objects.bulk_create(
        [
            Summary(
                organisation=org.organisation,
                scope=org.dept_a,
                period_kind="month",
                period_start=TODAY.replace(day=1),
                period_end=TODAY.replace(day=30),
                status=SummaryStatus.SIGNOFF,
                created_by=org.hr.user,
                round=1,
            )
            for _ in range(20)
        ]
    )
    _with_processes(many, SummaryFlow, SummaryFlow.signoff, None)
    SignOff.objects.bulk_create(
        [SignOff(summary=s, user=org.committee.user, round=1, approve=True) for s in many]
    )
    assert _count(client, SUMMARIES, 22) == small


def test_the_item_list_costs_the_same_for_few_and_many(org: Org, rule: Any, api: Any) -> None:
    _pool(org, rule, _crowd(org, 2))
    summary = summary_open(user=org.hr.user, scope=org.company, on=TODAY)
    url = f"{SUMMARIES}{summary.pk}/items/"
    small = _count(api(org.hr), url, 2)
    _batch_items(org, rule, summary, _crowd_of(org, "more", 20))
    assert _count(api(org.hr), url, 22) == small


def _crowd_of(org: Org, prefix: str, size: int) -> list[Member]:
    return [org.member(org.dept_b, f"acme-{prefix}-{i}") for i in range(size)]


def _batch_items(org: Org, rule: Any, summary: Summary, members: list[Member]) -> None:
    """One approved item per member in the summary, as ``summary_open`` gathers them."""
    sources = _pool(org, rule, members)
    SummaryItem.objects.bulk_create(
        [
            SummaryItem(
                summary=summary,
                declaration_item=source,
                member=member,
                rule_item=rule,
                quantity=1,
                points=source.points,
                amount=source.points,
                event_date=source.event_date,
                approved_by=org.leader_b.user,
                flags=["duplicate"],
            )
            for source, member in zip(sources, members, strict=True)
        ]
    )


def test_the_board_costs_the_same_for_few_and_many(org: Org, rule: Any, api: Any) -> None:
    _published_batches(org, rule, 2)
    client = api(org.worker_b)
    small = _count(client, PUBLICITY, 2)
    batches = _summaries(
        org,
        20,
        SummaryStatus.PUBLICITY,
        published_at=timezone.now(),
        window_ends_at=timezone.now() + timedelta(days=7),
    )
    members = _crowd_of(org, "more", 20)
    for summary, member in zip(batches, members, strict=True):
        _batch_items(org, rule, summary, [member])
    _appeals(org, list(SummaryItem.objects.filter(summary__in=batches)))
    assert _count(client, PUBLICITY, 22) == small


def test_a_batch_costs_the_same_for_few_and_many(org: Org, rule: Any, api: Any) -> None:
    _pool(org, rule, _crowd(org, 2))
    summary = summary_open(user=org.hr.user, scope=org.company, on=TODAY)
    Summary.objects.filter(pk=summary.pk).update(status=SummaryStatus.PUBLICITY)
    client = api(org.worker_b)
    url = f"{PUBLICITY}{summary.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(url).json()["rows"]) == 2
    _batch_items(org, rule, summary, _crowd_of(org, "more", 20))
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url).json()["rows"]) == 22
    assert len(many) == len(few)


def test_the_appeal_list_costs_the_same_for_few_and_many(org: Org, rule: Any, api: Any) -> None:
    _pool(org, rule, _crowd(org, 22))
    summary = summary_open(user=org.hr.user, scope=org.company, on=TODAY)
    Summary.objects.filter(pk=summary.pk).update(status=SummaryStatus.PUBLICITY)
    items = list(summary.items.order_by("pk"))
    few = _appeals(org, items[:2])
    _with_processes(few, AppealFlow, AppealFlow.reexamine, org.hr.user)
    small = {member: _count(api(member), APPEALS, 2) for member in (org.hr, org.worker_b)}
    many = _appeals(org, items[2:])
    _with_processes(many, AppealFlow, AppealFlow.reexamine, org.hr.user)
    for member, queries in small.items():
        assert _count(api(member), APPEALS, 22) == queries
