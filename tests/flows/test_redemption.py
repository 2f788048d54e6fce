"""The redemption flow through the test client: request, approve, fulfil, reject with a
refund, cancel with a refund; refusals (vetoed, out of stock, not eligible, not enough
points) write nothing; who may see and do what. Each checks the ledger entries, the
balances, the stock and that the totals still equal the entries."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import translation
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.flows import RedemptionFlow, inbox_home_context
from flows.models import Notification, Redemption, RedemptionStatus
from flows.redemption import redemption_approve, redemption_request
from points.models import (
    Account,
    AuditEvent,
    EntryKind,
    LedgerEntry,
    Member,
    PeriodTotal,
    Reward,
    RewardKind,
)
from points.roles import Role
from points.selectors.ledger import ledger_verify
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory

pytestmark = pytest.mark.django_db

START = "/shop/redemption/start/"
SHOP = "/shop/rewards/"
LIST = "/shop/redemption/"
QUEUE = "/shop/redemption/queue/"
DENIED = (403, 404)


def _client(member: Member) -> Client:
    client = Client()
    client.raise_request_exception = False
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


def _reward(org: Org, **fields: Any) -> Reward:
    fields.setdefault("name", "保温杯")
    fields.setdefault("kind", RewardKind.GIFT)
    fields.setdefault("points_cost", 200)
    fields.setdefault("stock", 3)
    return Reward.objects.create(organisation=org.organisation, **fields)


@pytest.fixture
def cup(org: Org) -> Reward:
    return _reward(org)


@pytest.fixture
def hr2(org: Org) -> Member:
    return org.member(org.company, "acme-hr2", role=Role.HR)


def _denied(response: Any) -> bool:
    """Refused, or sent somewhere harmless (not to log in, not to a task's form)."""
    if response.status_code == 302:
        location = response["Location"]
        return "/accounts/login/" not in location and "/execute/" not in location
    return response.status_code in (*DENIED, 405)


def _redeemable(member: Member) -> int:
    return Account.objects.get(member=member).redeemable


def _lifetime(member: Member) -> int:
    return Account.objects.get(member=member).lifetime_total


def _request(member: Member, reward: Reward, note: str = "") -> Any:
    return _client(member).post(START, {"reward": reward.pk, "note": note})


def _task(node: Any, redemption: Redemption) -> Task:
    return RedemptionFlow.task_class.objects.get(
        process_id=redemption.process_id,
        flow_task=node,
        status__in=[STATUS.NEW, STATUS.ASSIGNED],
    )


def _task_url(task: Task, action: str = "execute") -> str:
    return f"/shop/redemption/{task.process_id}/{task.flow_task.name}/{task.pk}/{action}/"


def _decide(hr: Member, node: Any, redemption: Redemption, decision: str, reason: str = "") -> Any:
    """HR claims the task from the queue and decides."""
    task = _task(node, redemption)
    client = _client(hr)
    if task.owner_id is None:
        assert client.post(_task_url(task, "assign")).status_code == 302
    return client.post(_task_url(task), {"decision": decision, "reason": reason})


def _requested(org: Org, member: Member, reward: Reward) -> Redemption:
    response = _request(member, reward)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Redemption.objects.get(member=member, reward=reward, status=RedemptionStatus.REQUESTED)


def _withdraw(member: Member, redemption: Redemption) -> Any:
    """The member confirms the cancellation on its confirmation page."""
    return _client(member).post(f"{LIST}withdraw/{redemption.pk}/", {"confirm": "yes"})


def _nothing_written(member: Member, reward: Reward, stock: int, redeemable: int = 500) -> None:
    reward.refresh_from_db()
    assert reward.stock == stock
    assert not Redemption.objects.filter(member=member).exists()
    assert not LedgerEntry.objects.filter(member=member, kind=EntryKind.REDEMPTION).exists()
    assert _redeemable(member) == redeemable
    assert not AuditEvent.objects.filter(action__startswith="redemption.", member=member).exists()
    # No process was started for the refused request.
    processes = RedemptionFlow.process_class.objects.filter(flow_class=RedemptionFlow)
    assert processes.count() == Redemption.objects.count()
    assert ledger_verify() == []


# --- the happy paths ------------------------------------------------------------------------


def test_request_spends_the_points_and_takes_one_item(org: Org, cup: Reward) -> None:
    member = org.worker_a1
    assert _client(member).get(f"{START}?reward={cup.pk}").status_code == 200
    redemption = _requested(org, member, cup)

    entry = LedgerEntry.objects.get(member=member, kind=EntryKind.REDEMPTION)
    assert redemption.entry == entry and redemption.points == 200
    assert entry.idempotency_key == f"redemption:{redemption.pk}"
    assert entry.source == redemption
    # The policy's default: redemption spends the redeemable balance, not the ranking total.
    assert (entry.amount, entry.redeemable_delta) == (0, -200)
    assert (_redeemable(member), _lifetime(member)) == (300, 500)
    cup.refresh_from_db()
    assert cup.stock == 2
    # The process waits in HR's queue for approval, unassigned.
    task = _task(RedemptionFlow.approve, redemption)
    assert task.status == STATUS.NEW and task.owner is None
    assert task.owner_permission == "points.handle_redemption"
    assert AuditEvent.objects.filter(action="redemption.request", member=member).exists()
    assert Notification.objects.filter(user=member.user).exists()
    assert ledger_verify() == []


def test_approve_then_fulfil(org: Org, cup: Reward) -> None:
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    queue = _client(org.hr).get(QUEUE).content.decode()
    assert f"/approve/{_task(RedemptionFlow.approve, redemption).pk}/" in queue

    assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.APPROVED
    assert redemption.decided_by == org.hr.user

    assert _decide(org.hr, RedemptionFlow.fulfil, redemption, "fulfil").status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.FULFILLED
    assert redemption.fulfilled_by == org.hr.user and redemption.refund_entry is None
    assert redemption.process.status == PROCESS.DONE
    # Spent once, nothing refunded.
    assert LedgerEntry.objects.filter(member=member).exclude(kind=EntryKind.BASE).count() == 1
    assert _redeemable(member) == 300
    cup.refresh_from_db()
    assert cup.stock == 2
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"redemption.request", "redemption.approve", "redemption.fulfil"} <= actions
    assert Notification.objects.filter(user=member.user).count() == 3
    assert ledger_verify() == []


def test_reject_with_a_reason_refunds_by_a_reversal(org: Org, cup: Reward) -> None:
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    # A reason is needed.
    response = _decide(org.hr, RedemptionFlow.approve, redemption, "reject")
    assert response.status_code == 200
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED

    response = _decide(org.hr, RedemptionFlow.approve, redemption, "reject", "本月库存留给一线")
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REJECTED
    assert redemption.reason == "本月库存留给一线"
    refund = redemption.refund_entry
    assert refund is not None and refund.kind == EntryKind.REVERSAL
    assert refund.reverses == redemption.entry
    assert (refund.amount, refund.redeemable_delta) == (0, 200)
    assert (_redeemable(member), _lifetime(member)) == (500, 500)
    cup.refresh_from_db()
    assert cup.stock == 3
    assert redemption.process.status == PROCESS.DONE
    assert not RedemptionFlow.task_class.objects.filter(
        process=redemption.process, flow_task=RedemptionFlow.fulfil
    ).exists()
    assert AuditEvent.objects.filter(action="redemption.reject").get().data["reason"]
    assert ledger_verify() == []


def test_hr_may_reject_an_approved_redemption_it_cannot_fulfil(org: Org, cup: Reward) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302
    response = _decide(org.hr, RedemptionFlow.fulfil, redemption, "reject", "供应商停产")
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REJECTED
    assert _redeemable(org.worker_a1) == 500
    cup.refresh_from_db()
    assert cup.stock == 3
    assert ledger_verify() == []


@pytest.mark.parametrize("approved_first", [False, True])
def test_the_member_cancels_before_fulfilment_and_is_refunded(
    org: Org, cup: Reward, approved_first: bool
) -> None:
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    if approved_first:
        assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302
    open_task = _task(
        RedemptionFlow.fulfil if approved_first else RedemptionFlow.approve, redemption
    )

    response = _withdraw(member, redemption)
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.CANCELLED
    assert redemption.refund_entry is not None
    assert redemption.refund_entry.reverses == redemption.entry
    assert (_redeemable(member), _lifetime(member)) == (500, 500)
    cup.refresh_from_db()
    assert cup.stock == 3
    # The open task left HR's queue and the process is cancelled.
    open_task.refresh_from_db()
    assert open_task.status == STATUS.CANCELED
    assert redemption.process.status == PROCESS.CANCELED
    assert f"/{open_task.pk}/" not in _client(org.hr).get(QUEUE).content.decode()
    assert AuditEvent.objects.filter(action="redemption.cancel", member=member).exists()
    # Twice refunds once.
    assert _withdraw(member, redemption).status_code == 302
    assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1
    assert ledger_verify() == []


def test_a_fulfilled_redemption_cannot_be_cancelled(org: Org, cup: Reward) -> None:
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    _decide(org.hr, RedemptionFlow.approve, redemption, "approve")
    _decide(org.hr, RedemptionFlow.fulfil, redemption, "fulfil")
    assert _withdraw(member, redemption).status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.FULFILLED and redemption.refund_entry is None
    assert _redeemable(member) == 300
    assert ledger_verify() == []


def test_redemption_lowers_the_ranking_when_the_policy_says_so(org: Org, cup: Reward) -> None:
    policy = org.organisation.policy
    policy.redemption_lowers_ranking = True
    policy.save()
    member = org.worker_a1
    redemption = _requested(org, member, cup)
    assert (_redeemable(member), _lifetime(member)) == (300, 300)
    month = PeriodTotal.objects.get(
        member=member, period_kind="month", period_start=date(2026, 11, 1)
    )
    assert month.total == 300
    _withdraw(member, redemption)
    assert (_redeemable(member), _lifetime(member)) == (500, 500)
    month = PeriodTotal.objects.get(
        member=member, period_kind="month", period_start=date(2026, 11, 1)
    )
    assert month.total == 500
    assert ledger_verify() == []


# --- refusals write nothing -----------------------------------------------------------------


def _refused(member: Member, reward: Reward) -> str:
    """The request page answers with the form and the reason; nothing is written."""
    response = _request(member, reward)
    assert response.status_code == 200
    return response.content.decode()


def test_a_vetoed_member_is_refused_with_the_reason(org: Org, cup: Reward, post: Any) -> None:
    veto = RuleItemFactory(
        organisation=org.organisation, name="违章作业", veto=True, points_min=10, points_max=10
    )
    post(org.worker_a1, -10, rule_item_id=veto.pk)
    html = _refused(org.worker_a1, cup)
    assert "pts-errors" in html
    _nothing_written(org.worker_a1, cup, stock=3, redeemable=490)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        redemption_request(user=org.worker_a1.user, reward_id=cup.pk)
    assert "veto" in refused.value.messages[0]
    _nothing_written(org.worker_a1, cup, stock=3, redeemable=490)


def test_out_of_stock_is_refused(org: Org) -> None:
    last = _reward(org, name="电影票", stock=1, points_cost=100)
    _requested(org, org.worker_a1, last)
    last.refresh_from_db()
    assert last.stock == 0
    _refused(org.worker_b, last)
    _nothing_written(org.worker_b, last, stock=0)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        redemption_request(user=org.worker_b.user, reward_id=last.pk)
    assert "out of stock" in refused.value.messages[0]


def test_not_enough_points_is_refused(org: Org) -> None:
    dear = _reward(org, name="带薪休假一天", kind=RewardKind.PAID_LEAVE, points_cost=501)
    _refused(org.worker_a1, dear)
    _nothing_written(org.worker_a1, dear, stock=3)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        redemption_request(user=org.worker_a1.user, reward_id=dear.pk)
    assert "Not enough points" in refused.value.messages[0]


def test_not_eligible_by_unit_is_refused(org: Org) -> None:
    training = _reward(org, name="外部培训名额", kind=RewardKind.TRAINING_PLACE)
    training.units.set([org.dept_b])
    _refused(org.worker_a1, training)
    _nothing_written(org.worker_a1, training, stock=3)
    assert "外部培训名额" not in _client(org.worker_a1).get(SHOP).content.decode()
    # Department B's worker may: a unit includes its sub-units, the company all of them.
    assert "外部培训名额" in _client(org.worker_b).get(SHOP).content.decode()
    _requested(org, org.worker_b, training)
    training.units.set([org.company])
    _requested(org, org.worker_a1, training)
    assert ledger_verify() == []


def test_not_eligible_by_role_is_refused(org: Org) -> None:
    leaders_only = _reward(org, name="管理培训", kind=RewardKind.TRAINING_PLACE)
    leaders_only.roles.set([Group.objects.get(name=Role.LEADER)])
    _refused(org.worker_a1, leaders_only)
    _nothing_written(org.worker_a1, leaders_only, stock=3)
    _requested(org, org.leader_a1, leaders_only)


@pytest.mark.parametrize(
    "fields",
    [
        {"active": False},
        {"active_until": date(2026, 11, 19)},
        {"active_from": date(2026, 11, 21)},
    ],
)
def test_a_reward_not_on_offer_is_refused(org: Org, fields: dict[str, Any]) -> None:
    reward = _reward(org, **fields)
    assert reward.name not in _client(org.worker_a1).get(SHOP).content.decode()
    _refused(org.worker_a1, reward)
    _nothing_written(org.worker_a1, reward, stock=3)


def test_the_shop_lists_what_the_member_may_redeem(org: Org, other_org: Org, cup: Reward) -> None:
    _reward(other_org, name="别家的奖品")
    response = _client(org.worker_a1).get(SHOP)
    assert response.status_code == 200
    html = response.content.decode()
    assert "保温杯" in html and "别家的奖品" not in html
    assert f"{START}?reward={cup.pk}" in html
    # Another organisation's reward has no request page here.
    other = Reward.objects.get(name="别家的奖品")
    assert _client(org.worker_a1).get(f"{START}?reward={other.pk}").status_code == 404
    assert _request(org.worker_a1, other).status_code == 404
    assert not Redemption.objects.exists()


# --- who may see and do what ----------------------------------------------------------------


def test_another_organisations_hr_can_neither_see_nor_act(
    org: Org, other_org: Org, cup: Reward
) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(other_org.hr)
    for url in (QUEUE, LIST, "/shop/redemption/list/", "/shop/redemption/inbox/"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert f"/shop/redemption/{redemption.process_id}/" not in body, url
        assert "acme-" not in body, url
    assert client.get(f"/shop/redemption/{redemption.process_id}/").status_code in DENIED
    for action in ("", "detail/", "assign/", "execute/"):
        url = f"/shop/redemption/{task.process_id}/approve/{task.pk}/{action}"
        assert _denied(client.get(url)), url
        assert _denied(client.post(url, {"decision": "approve"})), url
    with pytest.raises(PermissionDenied):
        redemption_approve(redemption=redemption, user=other_org.hr.user)
    task.refresh_from_db()
    redemption.refresh_from_db()
    assert task.owner is None and redemption.status == RedemptionStatus.REQUESTED


@pytest.mark.parametrize("name", ["worker_b", "leader_a1", "committee", "admin"])
def test_only_hr_claims_the_approval(org: Org, cup: Reward, name: str) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(getattr(org, name))
    assert f"/approve/{task.pk}/" not in client.get(QUEUE).content.decode()
    assert client.post(_task_url(task, "assign")).status_code in DENIED
    assert client.post(_task_url(task), {"decision": "approve"}).status_code in DENIED
    task.refresh_from_db()
    redemption.refresh_from_db()
    assert task.owner is None and redemption.status == RedemptionStatus.REQUESTED


def test_nobody_approves_their_own_redemption(org: Org, cup: Reward, hr2: Member) -> None:
    redemption = _requested(org, org.hr, cup)
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(org.hr)
    # not offered: neither in their queue nor counted on their home page (other HR's are)
    assert f"/approve/{task.pk}/" not in client.get(QUEUE).content.decode()
    assert inbox_home_context(org.hr.user)["redemptions_to_handle"] == 0
    assert f"/approve/{task.pk}/" in _client(hr2).get(QUEUE).content.decode()
    assert inbox_home_context(hr2.user)["redemptions_to_handle"] == 1
    # not claimed (before, the claim went through and the task sat with them)
    assert client.post(_task_url(task, "assign")).status_code == 403
    task.refresh_from_db()
    assert task.owner_id is None
    assert client.post(_task_url(task), {"decision": "approve"}).status_code == 403
    with pytest.raises(PermissionDenied):
        redemption_approve(redemption=redemption, user=org.hr.user)
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.REQUESTED
    # Another HR officer takes it.
    assert _decide(hr2, RedemptionFlow.approve, redemption, "approve").status_code == 302
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.APPROVED


def test_a_redemption_without_a_process_hides_nothing_from_the_queue(
    org: Org, cup: Reward, hr2: Member
) -> None:
    """A redemption of the HR officer's with no process (written outside the flow) puts no
    NULL in the queue's "not about me" list: NOT IN (…, NULL) would hide every task."""
    own = _requested(org, org.hr, cup)
    Redemption.objects.filter(pk=own.pk).update(process=None)
    other = _requested(org, org.worker_a1, cup)
    task = _task(RedemptionFlow.approve, other)
    assert f"/approve/{task.pk}/" in _client(org.hr).get(QUEUE).content.decode()
    assert inbox_home_context(org.hr.user)["redemptions_to_handle"] >= 1


def test_a_member_sees_only_their_own_redemptions(org: Org, cup: Reward) -> None:
    mine = _requested(org, org.worker_a1, cup)
    theirs = _requested(org, org.worker_b, cup)
    client = _client(org.worker_a1)
    body = client.get(LIST).content.decode()
    assert f"/shop/redemption/{mine.process_id}/" in body
    assert f"/shop/redemption/{theirs.process_id}/" not in body
    assert client.get(f"/shop/redemption/{mine.process_id}/").status_code == 200
    assert client.get(f"/shop/redemption/{theirs.process_id}/").status_code in DENIED
    # Nobody cancels someone else's redemption.
    url = f"{LIST}withdraw/{theirs.pk}/"
    for someone_else in (client, _client(org.hr)):
        assert someone_else.get(url).status_code == 404
        assert someone_else.post(url, {"confirm": "yes"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == RedemptionStatus.REQUESTED
    # HR sees the organisation's.
    hr_body = _client(org.hr).get(LIST).content.decode()
    assert f"/shop/redemption/{mine.process_id}/" in hr_body
    assert f"/shop/redemption/{theirs.process_id}/" in hr_body


def test_anonymous_users_are_sent_to_log_in(cup: Reward) -> None:
    client = Client()
    for url in (SHOP, LIST, f"{START}?reward={cup.pk}", f"{SHOP}{cup.pk}/picture/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_a_reward_picture_is_checked_reencoded_and_served_to_the_organisation(
    org: Org, other_org: Org, cup: Reward
) -> None:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from points.admin_shop import RewardForm

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    data = {
        "organisation": org.organisation.pk,
        "name": "保温杯",
        "kind": RewardKind.GIFT,
        "points_cost": 200,
        "stock": 3,
        "active": "on",
    }
    bad = RewardForm(
        data, {"picture": SimpleUploadedFile("cup.jpg", b"<html>not a photo</html>")}, instance=cup
    )
    assert not bad.is_valid() and "picture" in bad.errors
    form = RewardForm(
        data, {"picture": SimpleUploadedFile("../../cup.html", out.getvalue())}, instance=cup
    )
    assert form.is_valid(), form.errors
    reward = form.save()
    assert reward.picture.name.startswith("rewards/") and reward.picture.name.endswith(".jpg")
    assert "cup" not in reward.picture.name and reward.picture_type == "image/jpeg"
    response = _client(org.worker_a1).get(f"{SHOP}{reward.pk}/picture/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (40, 30)
    assert _client(other_org.worker_a1).get(f"{SHOP}{reward.pk}/picture/").status_code == 404


def test_the_queue_says_what_each_request_is_in_the_same_queries(org: Org, cup: Reward) -> None:
    from tests.conftest import queries_of

    cup.stock = 10
    cup.save()
    _requested(org, org.worker_a1, cup)
    few = queries_of(_client(org.hr), QUEUE)
    for member in (org.worker_b, org.leader_a1, org.leader_b, org.recorder):
        _requested(org, member, cup)
    assert queries_of(_client(org.hr), QUEUE) <= few
    html = _client(org.hr).get(QUEUE).content.decode()
    assert html.count("· 保温杯 · 200 可兑换积分") == 5
    assert "acme-worker-b · 保温杯 · 200 可兑换积分" in html
