"""Award notices: within the issuer's tier straight into the pending pool; above it, the
next level signs; only members of the units the issuer leads."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core import mail
from viewflow.workflow.models import Task

from flows.flows import AwardNoticeFlow
from flows.models import AwardNotice, NoticeItem, NoticeStatus
from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import AuthorityTierFactory, RuleItemFactory
from tests.flows.test_declaration_flow import _client, _said

pytestmark = pytest.mark.django_db
START = "/declarations/awardnotice/start/"


@pytest.fixture
def late(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        code="ATD-002",
        name="迟到",
        category="attendance",
        kind="deduction",
        points_min=5,
        points_max=5,
        leader_coaward_ratio="0.5",
    )


def _issue(issuer: Any, members: list[Any], rule: Any, quantity: int = 1) -> Any:
    return _client(issuer).post(
        START,
        {
            "members": [m.pk for m in members],
            "rule_item": rule.pk,
            "quantity": quantity,
            "event_date": "2026-11-12",
            "description": "早会迟到十分钟",
        },
    )


def test_within_the_tier_the_notice_goes_straight_to_the_pool(
    org: Org, late: Any, django_capture_on_commit_callbacks: Any
) -> None:
    org.worker_a1.user.email = "w@example.com"
    org.worker_a1.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = _issue(org.leader_a1, [org.worker_a1], late)
    assert response.status_code == 302, response.content.decode()[:2000]
    notice = AwardNotice.objects.get()
    assert notice.status == NoticeStatus.APPROVED
    item = notice.items.get()
    assert item.signed_total == -5 and item.pool_month is not None
    assert notice.process.finished is not None
    assert mail.outbox and mail.outbox[0].to == ["w@example.com"]


def test_above_the_tier_the_next_level_signs(org: Org, late: Any) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    org.leader_a.name = "李部长"
    org.leader_a.save()
    issued = _issue(org.leader_a1, [org.worker_a1], late, quantity=10)  # 50 points > 20
    # it says where the notice went, not that it was issued (it has not taken effect)
    assert _said(issued) == ["通知单超出您的权限：已送交 李部长 签批。"]
    notice = AwardNotice.objects.get()
    assert notice.status == NoticeStatus.AWAITING_SIGNATURE
    assert notice.signer == org.leader_a.user
    task = Task.objects.get(owner=org.leader_a.user, status="ASSIGNED")
    url = f"/declarations/awardnotice/{task.process_id}/sign/{task.pk}/execute/"
    assert _client(org.leader_b).get(url).status_code == 404  # not theirs to see
    assert _client(org.leader_a).post(url, {"decision": "approve"}).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.APPROVED
    assert notice.items.get().pool_month is not None


def _sign(signer: Any, decision: str = "approve", reason: str = "") -> Any:
    task = Task.objects.get(owner=signer.user, status="ASSIGNED")
    url = f"/declarations/awardnotice/{task.process_id}/sign/{task.pk}/execute/"
    return _client(signer).post(url, {"decision": decision, "reason": reason})


def test_above_the_signers_tier_too_the_level_above_signs(
    org: Org, late: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The laundry company's rule: a notice takes effect only when signed at a level whose
    authority covers it. The department head's tier is below it too: their signature
    passes it to the company's head, whose signature makes it take effect; the issuer hears
    of each step, the member of the points only then."""
    for unit, points in ((org.team_a1, 20), (org.dept_a, 40)):
        unit.authority_tier = AuthorityTierFactory(
            organisation=org.organisation, level=points, max_points=points
        )
        unit.save()
    for member in (org.leader_a1, org.worker_a1):
        member.user.email = f"{member.user.username}@example.com"
        member.user.save()
    assert _issue(org.leader_a1, [org.worker_a1], late, quantity=10).status_code == 302  # 50
    notice = AwardNotice.objects.get()
    assert notice.signer == org.leader_a.user
    with django_capture_on_commit_callbacks(execute=True):
        assert _sign(org.leader_a).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SIGNATURE and notice.signer == org.ceo.user
    assert notice.items.get().pool_month is None  # not in effect yet
    assert [m.to for m in mail.outbox] == [["acme-leader-a1@example.com"]]
    assert "acme-ceo" in mail.outbox[0].subject
    passed = AuditEvent.objects.get(action="notice.escalate")
    assert passed.actor == org.leader_a.user and passed.data["to"] == org.ceo.pk
    with django_capture_on_commit_callbacks(execute=True):
        assert _sign(org.ceo).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.APPROVED and notice.items.get().pool_month is not None
    assert notice.process.finished is not None
    assert sorted(m.to[0] for m in mail.outbox[1:]) == [
        "acme-leader-a1@example.com",
        "acme-worker-a1@example.com",
    ]
    signs = Task.objects.filter(process=notice.process, flow_task=AwardNoticeFlow.sign)
    assert sorted(t.owner.username for t in signs) == ["acme-ceo", "acme-leader-a"]


def test_a_rejected_notice_tells_its_issuer(
    org: Org, late: Any, django_capture_on_commit_callbacks: Any
) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(organisation=org.organisation)  # 20
    org.team_a1.save()
    org.leader_a1.user.email = "a1@example.com"
    org.leader_a1.user.save()
    _issue(org.leader_a1, [org.worker_a1], late, quantity=10)
    with django_capture_on_commit_callbacks(execute=True):
        assert _sign(org.leader_a, "reject", "证据不足").status_code == 302
    notice = AwardNotice.objects.get()
    assert notice.status == NoticeStatus.REJECTED and notice.items.get().pool_month is None
    assert [m.to for m in mail.outbox] == [["a1@example.com"]]
    assert "驳回" in mail.outbox[0].subject and "证据不足" in mail.outbox[0].body


def test_above_the_tier_with_nobody_above_who_may_sign_is_refused(org: Org, late: Any) -> None:
    """The level above has no login: the notice is refused (it does not take effect on
    the issuer's word alone), and nothing is left behind."""
    org.team_a1.authority_tier = AuthorityTierFactory(organisation=org.organisation)  # 20
    org.team_a1.save()
    org.leader_a.user = None
    org.leader_a.save()
    response = _issue(org.leader_a1, [org.worker_a1], late, quantity=10)
    assert response.status_code == 200
    assert "通知单超出您的权限，且您的上级中无人可以签批；请联系人力资源部门。" in (
        response.content.decode()
    )
    assert not AwardNotice.objects.exists() and not NoticeItem.objects.exists()
    assert not AwardNoticeFlow.process_class.objects.exists()
    assert not Task.objects.exists()


def test_only_members_of_the_issuers_units(org: Org, late: Any) -> None:
    response = _issue(org.leader_a1, [org.worker_b], late)
    assert response.status_code == 200 and not AwardNotice.objects.exists()
    assert _client(org.worker_a1).get(START).status_code == 403  # not a leader


def test_a_notice_over_a_members_cap_is_refused(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="迟到扣分",
        kind="deduction",
        points_min=5,
        points_max=5,
        cap_per_day=5,
    )
    post(org.worker_a1, -5, rule_item_id=rule.pk, effective_date=date(2026, 11, 12))
    response = _issue(org.leader_a1, [org.worker_a1], rule)
    assert response.status_code == 200 and not AwardNotice.objects.exists()
    assert "迟到扣分" in response.content.decode()


@pytest.mark.parametrize("cap_per_day", [None, 100])
def test_checking_a_notice_does_not_read_per_member(
    org: Org, late: Any, cap_per_day: int | None
) -> None:
    """The rule's scope is read once per unit, the members come with their units, and a
    capped rule's usage is read for all the members at once."""
    late.cap_per_day = cap_per_day
    late.save()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flows.forms import AwardNoticeForm
    from flows.services import notice_scope

    members = [org.worker_a1] + [org.member(org.team_a1, f"extra-{n}") for n in range(5)]

    def queries(chosen: list[Any]) -> int:
        form = AwardNoticeForm(
            {
                "members": [m.pk for m in chosen],
                "rule_item": late.pk,
                "quantity": 1,
                "event_date": "2026-11-12",
                "description": "早会迟到十分钟",
            },
            issuer=org.leader_a1,
            scope=notice_scope(user=org.leader_a1.user),
        )
        with CaptureQueriesContext(connection) as captured:
            assert form.is_valid(), form.errors
        return len(captured)

    assert queries(members[:1]) == queries(members)


def test_the_notice_form_offers_only_rules_for_somebody_in_the_scope(org: Org, late: Any) -> None:
    """leader_a leads 甲部门 and its teams: a rule for 乙部门 only is not offered, one for a
    team below or a unit above is; an inactive one is not."""
    import re

    elsewhere = RuleItemFactory(organisation=org.organisation, name="乙部门专项")
    elsewhere.units.set([org.dept_b])
    team = RuleItemFactory(organisation=org.organisation, name="甲一班组专项")
    team.units.set([org.team_a1])
    company = RuleItemFactory(organisation=org.organisation, name="全公司专项")
    company.units.set([org.company])
    RuleItemFactory(organisation=org.organisation, name="作废", active=False)
    html = _client(org.leader_a).get(START).content.decode()
    select = html.split('name="rule_item"')[1].split("</select>")[0]
    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', select)}
    assert offered == {late.pk, team.pk, company.pk}


def test_a_posted_notice_item_brings_its_leader_the_co_award(
    org: Org, late: Any, committee2: Any
) -> None:
    """The leader co-award applies to notices as to declarations: posted, the member's -5
    brings their team leader the rule's share (0.5), linked to it."""
    from points.models import EntryKind, LedgerEntry
    from points.selectors.ledger import ledger_verify
    from tests.flows.test_publicity import _close_after_window, _open_summary, _sign, _submit

    assert _issue(org.leader_b, [org.worker_b], late).status_code == 302  # within the tier
    summary = _open_summary(org)
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    _close_after_window(summary)
    posted = LedgerEntry.objects.get(kind=EntryKind.DAILY, member=org.worker_b)
    assert posted.amount == -5 and posted.rule_item == late
    share = LedgerEntry.objects.get(kind=EntryKind.COAWARD)
    assert share.member == org.leader_b and share.linked_to == posted
    assert share.amount == -3  # half of -5, rounded half away from zero
    assert ledger_verify() == []


def test_a_notice_is_not_passed_back_to_one_who_signed_it(org: Org) -> None:
    """The department head sits in the team whose leader passed the notice up to them: the
    team leader is "above" them again, but has signed already, so the company's head signs
    next (the notice was passed back and forth for ever)."""
    from tests.factories import OrgUnitFactory

    team_x = OrgUnitFactory(organisation=org.organisation, code="acme-x", parent=org.team_a1)
    issuer = org.member(team_x, "acme-leader-x")
    worker = org.member(team_x, "acme-worker-x")
    team_x.leader = issuer
    team_x.save()
    org.leader_a.unit = org.team_a1  # leads the department, sits in the team
    org.leader_a.save()
    for unit in (team_x, org.team_a1, org.dept_a):
        unit.authority_tier = AuthorityTierFactory(organisation=org.organisation)  # 20
        unit.save()
    rule = RuleItemFactory(
        organisation=org.organisation, name="迟到", kind="deduction", points_min=5, points_max=5
    )
    assert _issue(issuer, [worker], rule, quantity=10).status_code == 302  # 50 points
    notice = AwardNotice.objects.get()
    assert notice.signer == org.leader_a1.user
    assert _sign(org.leader_a1).status_code == 302
    notice.refresh_from_db()
    assert notice.signer == org.leader_a.user
    assert _sign(org.leader_a).status_code == 302
    notice.refresh_from_db()
    assert notice.signer == org.ceo.user and notice.status == NoticeStatus.AWAITING_SIGNATURE
    assert _sign(org.ceo).status_code == 302
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.APPROVED
