"""Rewards and redemptions through the API: what each role may see and do, the refusals
with their codes (nothing written), idempotent requests, and the path request → claim →
approve → fulfil, rejection and cancellation, with the balances, stock and ledger checked."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from viewflow.workflow.status import PROCESS, STATUS

from flows.flows import RedemptionFlow
from flows.models import Redemption, RedemptionStatus
from points.models import Account, EntryKind, LedgerEntry, Member, Reward, RewardKind
from points.roles import Role
from points.selectors.ledger import ledger_verify
from tests.api.conftest import V1, codes, fields
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db

REWARDS = f"{V1}rewards/"
REDEMPTIONS = f"{V1}redemptions/"


def _reward(org: Org, **extra: Any) -> Reward:
    extra.setdefault("name", "保温杯")
    extra.setdefault("kind", RewardKind.GIFT)
    extra.setdefault("points_cost", 200)
    extra.setdefault("stock", 3)
    return Reward.objects.create(organisation=org.organisation, **extra)


@pytest.fixture
def cup(org: Org) -> Reward:
    return _reward(org)


def _redeemable(member: Member) -> int:
    return Account.objects.get(member=member).redeemable


def _stock(reward: Reward) -> int:
    reward.refresh_from_db()
    return reward.stock


def _request(api: Any, member: Member, reward: Reward, **headers: Any) -> Any:
    return api(member).post(
        REDEMPTIONS, {"reward": reward.pk, "note": "谢谢"}, format="json", **headers
    )


def _requested(api: Any, member: Member, reward: Reward) -> dict[str, Any]:
    response = _request(api, member, reward)
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def _act(api: Any, member: Member, pk: int, step: str, **body: Any) -> Any:
    return api(member).post(f"{REDEMPTIONS}{pk}/{step}/", body, format="json")


# --- rewards -------------------------------------------------------------------------------


def test_rewards_a_member_may_redeem_and_hr_sees_all(
    org: Org, other_org: Org, cup: Reward, api: Any
) -> None:
    leaders = _reward(org, name="管理培训", kind=RewardKind.TRAINING_PLACE)
    leaders.roles.set([Group.objects.get(name=Role.LEADER)])
    retired = _reward(org, name="旧奖品", active=False)
    later = _reward(org, name="明年的奖品", active_from=date(2027, 1, 1))
    theirs = _reward(other_org, name="别家的奖品")

    mine = api(org.worker_a1).get(REWARDS).json()
    assert [row["id"] for row in mine["results"]] == [cup.pk]
    assert mine["results"][0] == {
        "id": cup.pk,
        "name": "保温杯",
        "description": "",
        "kind": "gift",
        "points_cost": 200,
        "stock": 3,
        "active": True,
        "active_from": None,
        "active_until": None,
        "picture": None,
    }
    assert {row["id"] for row in api(org.leader_a1).get(REWARDS).json()["results"]} == {
        cup.pk,
        leaders.pk,
    }
    everything = {row["id"] for row in api(org.hr).get(REWARDS).json()["results"]}
    assert everything == {cup.pk, leaders.pk, retired.pk, later.pk}
    assert api(org.worker_a1).get(f"{REWARDS}{cup.pk}/").status_code == 200
    for pk in (leaders.pk, retired.pk, theirs.pk):
        response = api(org.worker_a1).get(f"{REWARDS}{pk}/")
        assert response.status_code == 404 and codes(response) == ["not_found"]
    assert api(org.hr).get(f"{REWARDS}{theirs.pk}/").status_code == 404
    assert api(org.hr).get(REWARDS, {"kind": "training_place"}).json()["count"] == 1
    bad = api(org.hr).get(REWARDS, {"kind": "yacht"})
    assert bad.status_code == 400 and fields(bad) == ["kind"]
    assert api().get(REWARDS).status_code == 401


def test_rewards_list_is_a_flat_number_of_queries(org: Org, api: Any) -> None:
    def count() -> int:
        client = api(org.worker_a1)
        client.get(REWARDS)  # the token row and the session settle
        with CaptureQueriesContext(connection) as queries:
            assert client.get(REWARDS).status_code == 200
        return len(queries)

    _reward(org, name="一")
    few = count()
    for n in range(6):
        _reward(org, name=f"奖品{n}").units.set([org.team_a1])
    assert count() == few


# --- requesting ----------------------------------------------------------------------------


def test_a_request_spends_the_points_and_starts_the_flow(org: Org, cup: Reward, api: Any) -> None:
    body = _requested(api, org.worker_a1, cup)
    redemption = Redemption.objects.get()
    assert body["id"] == redemption.pk and body["status"] == "requested"
    assert body["points"] == 200 and body["note"] == "谢谢"
    assert body["member"] == org.worker_a1.pk and body["reward_name"] == "保温杯"
    assert body["decided_at"] is None and body["process"] == redemption.process_id
    task = RedemptionFlow.task_class.objects.get(
        process_id=redemption.process_id, flow_task=RedemptionFlow.approve
    )
    assert body["open_task"] == {"id": task.pk, "step": "approve", "owner": None}
    assert task.status == STATUS.NEW
    assert _redeemable(org.worker_a1) == 300 and _stock(cup) == 2
    entry = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.REDEMPTION)
    assert redemption.entry == entry
    assert ledger_verify() == []


def test_idempotency_key_replays_and_refuses_another_body(org: Org, cup: Reward, api: Any) -> None:
    other = _reward(org, name="电影票", points_cost=50)
    client = api(org.worker_a1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "redeem-1"}
    first = client.post(REDEMPTIONS, {"reward": cup.pk}, format="json", **headers)
    again = client.post(REDEMPTIONS, {"reward": cup.pk}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Redemption.objects.count() == 1 and _redeemable(org.worker_a1) == 300

    conflict = client.post(REDEMPTIONS, {"reward": other.pk}, format="json", **headers)
    assert conflict.status_code == 409 and codes(conflict) == ["idempotency_conflict"]
    assert Redemption.objects.count() == 1 and _stock(other) == 3
    # Keys are per user: the same key is free for someone else.
    theirs = api(org.worker_b).post(REDEMPTIONS, {"reward": cup.pk}, format="json", **headers)
    assert theirs.status_code == 201 and Redemption.objects.count() == 2
    bad = client.post(
        REDEMPTIONS, {"reward": cup.pk}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 101
    )
    assert bad.status_code == 400 and codes(bad) == ["invalid_idempotency_key"]


def _nothing_written(member: Member, reward: Reward, stock: int, redeemable: int = 500) -> None:
    assert not Redemption.objects.filter(member=member).exists()
    assert not LedgerEntry.objects.filter(member=member, kind=EntryKind.REDEMPTION).exists()
    assert _stock(reward) == stock and _redeemable(member) == redeemable
    processes = RedemptionFlow.process_class.objects.filter(flow_class=RedemptionFlow)
    assert processes.count() == Redemption.objects.count()
    assert ledger_verify() == []


def _refused(api: Any, member: Member, reward: Reward, code: str, text: str) -> None:
    response = _request(api, member, reward)
    assert response.status_code == 400, response.json()
    assert codes(response) == [code] and fields(response) == [None]
    assert text in response.json()["errors"][0]["message"]


def test_a_vetoed_member_is_refused_with_the_reason(
    org: Org, cup: Reward, api: Any, post: Any
) -> None:
    veto = RuleItemFactory(
        organisation=org.organisation, name="违章作业", veto=True, points_min=10, points_max=10
    )
    post(org.worker_a1, -10, rule_item_id=veto.pk)
    _refused(api, org.worker_a1, cup, "vetoed", "veto")
    _nothing_written(org.worker_a1, cup, stock=3, redeemable=490)


def test_out_of_stock_is_refused(org: Org, api: Any) -> None:
    last = _reward(org, name="电影票", stock=1, points_cost=100)
    _requested(api, org.worker_a1, last)
    _refused(api, org.worker_b, last, "out_of_stock", "out of stock")
    _nothing_written(org.worker_b, last, stock=0)


def test_a_balance_too_low_is_refused(org: Org, api: Any) -> None:
    dear = _reward(org, name="带薪休假一天", kind=RewardKind.PAID_LEAVE, points_cost=501)
    _refused(api, org.worker_a1, dear, "insufficient_points", "Not enough points")
    _nothing_written(org.worker_a1, dear, stock=3)


def test_not_eligible_and_not_on_offer_are_refused(org: Org, api: Any) -> None:
    for_b = _reward(org, name="外部培训名额", kind=RewardKind.TRAINING_PLACE)
    for_b.units.set([org.dept_b])
    _refused(api, org.worker_a1, for_b, "not_eligible", "not offered to your unit")
    _nothing_written(org.worker_a1, for_b, stock=3)
    ended = _reward(org, name="过期奖品", active_until=date(2026, 11, 19))
    _refused(api, org.worker_a1, ended, "not_offered", "not on offer")
    _nothing_written(org.worker_a1, ended, stock=3)


def test_bad_input_and_another_organisations_reward(
    org: Org, other_org: Org, cup: Reward, api: Any
) -> None:
    client = api(org.worker_a1)
    missing = client.post(REDEMPTIONS, {"note": "x"}, format="json")
    assert missing.status_code == 400
    assert (codes(missing), fields(missing)) == (["required"], ["reward"])
    long = client.post(REDEMPTIONS, {"reward": cup.pk, "note": "长" * 501}, format="json")
    assert (codes(long), fields(long)) == (["max_length"], ["note"])
    word = client.post(REDEMPTIONS, {"reward": "cup"}, format="json")
    assert (codes(word), fields(word)) == (["invalid"], ["reward"])
    theirs = _reward(other_org, name="别家的奖品")
    for pk in (theirs.pk, 10**9):
        response = client.post(REDEMPTIONS, {"reward": pk}, format="json")
        assert response.status_code == 400
        assert (codes(response), fields(response)) == (["does_not_exist"], ["reward"])
    _nothing_written(org.worker_a1, cup, stock=3)
    _nothing_written(org.worker_a1, theirs, stock=3)
    assert api().post(REDEMPTIONS, {"reward": cup.pk}, format="json").status_code == 401


def test_a_login_without_a_member_or_a_member_who_left_may_not_redeem(
    org: Org, cup: Reward, api: Any
) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    user = UserFactory()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.post(REDEMPTIONS, {"reward": cup.pk}, format="json").status_code == 403
    assert client.get(REDEMPTIONS).status_code == 403
    left = org.worker_b
    left.status, left.left_on = "left", date(2026, 11, 1)
    left.save()
    response = _request(api, left, cup)
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert not Redemption.objects.exists()


# --- HR's steps ----------------------------------------------------------------------------


def test_request_claim_approve_claim_fulfil(org: Org, cup: Reward, api: Any) -> None:
    pk = _requested(api, org.worker_a1, cup)["id"]
    # The worker cannot act at HR's steps.
    for step in ("approve", "claim", "fulfil"):
        assert _act(api, org.worker_a1, pk, step).status_code == 403, step
    # HR claims the approval from the queue first, as on the web.
    unclaimed = _act(api, org.hr, pk, "approve")
    assert unclaimed.status_code == 409 and codes(unclaimed) == ["task_not_claimed"]
    claimed = _act(api, org.hr, pk, "claim")
    assert claimed.status_code == 200
    assert claimed.json()["open_task"]["owner"] == org.hr.user.pk
    again = _act(api, org.hr, pk, "claim")
    assert again.status_code == 409 and codes(again) == ["task_not_available"]
    # Fulfilling before approval is not this step.
    early = _act(api, org.hr, pk, "fulfil")
    assert early.status_code == 409 and codes(early) == ["task_not_available"]

    approved = _act(api, org.hr, pk, "approve")
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert body["status"] == "approved" and body["decided_at"] is not None
    assert body["open_task"]["step"] == "fulfil" and body["open_task"]["owner"] is None
    twice = _act(api, org.hr, pk, "approve")
    assert twice.status_code == 409 and codes(twice) == ["task_done"]
    assert _redeemable(org.worker_a1) == 300

    assert _act(api, org.hr, pk, "fulfil").status_code == 409
    assert _act(api, org.hr, pk, "claim").status_code == 200
    fulfilled = _act(api, org.hr, pk, "fulfil")
    assert fulfilled.status_code == 200
    assert fulfilled.json()["status"] == "fulfilled" and fulfilled.json()["open_task"] is None
    redemption = Redemption.objects.get(pk=pk)
    assert redemption.fulfilled_by == org.hr.user and redemption.refund_entry is None
    assert redemption.process.status == PROCESS.DONE
    # Spent once, nothing refunded; the member may no longer cancel.
    assert _redeemable(org.worker_a1) == 300 and _stock(cup) == 2
    late = _act(api, org.worker_a1, pk, "cancel")
    assert late.status_code == 400 and codes(late) == ["not_open"]
    assert _redeemable(org.worker_a1) == 300
    assert ledger_verify() == []


@pytest.mark.parametrize("approved_first", [False, True])
def test_reject_with_a_reason_refunds(
    org: Org, cup: Reward, api: Any, approved_first: bool
) -> None:
    pk = _requested(api, org.worker_a1, cup)["id"]
    _act(api, org.hr, pk, "claim")
    if approved_first:
        assert _act(api, org.hr, pk, "approve").status_code == 200
        _act(api, org.hr, pk, "claim")
    for body, code in (({}, "required"), ({"reason": "  "}, "blank")):
        response = _act(api, org.hr, pk, "reject", **body)
        assert response.status_code == 400
        assert (codes(response), fields(response)) == ([code], ["reason"])
    assert _act(api, org.worker_a1, pk, "reject", reason="不要了").status_code == 403

    response = _act(api, org.hr, pk, "reject", reason="本月库存留给一线")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "本月库存留给一线"
    redemption = Redemption.objects.get(pk=pk)
    assert redemption.refund_entry is not None
    assert redemption.refund_entry.reverses == redemption.entry
    assert _redeemable(org.worker_a1) == 500 and _stock(cup) == 3
    assert redemption.process.status == PROCESS.DONE
    again = _act(api, org.hr, pk, "reject", reason="再来一次")
    assert again.status_code == 409 and codes(again) == ["task_done"]
    assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1
    assert ledger_verify() == []


@pytest.mark.parametrize("approved_first", [False, True])
def test_the_member_cancels_and_is_refunded(
    org: Org, cup: Reward, api: Any, approved_first: bool
) -> None:
    pk = _requested(api, org.worker_a1, cup)["id"]
    if approved_first:
        _act(api, org.hr, pk, "claim")
        assert _act(api, org.hr, pk, "approve").status_code == 200
    # HR sees it but does not cancel for the member; another member does not see it.
    hr = _act(api, org.hr, pk, "cancel")
    assert hr.status_code == 403 and codes(hr) == ["permission_denied"]
    assert _act(api, org.worker_b, pk, "cancel").status_code == 404

    response = _act(api, org.worker_a1, pk, "cancel", reason="换别的")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled" and body["reason"] == "换别的"
    assert body["cancelled_at"] is not None and body["open_task"] is None
    redemption = Redemption.objects.get(pk=pk)
    assert redemption.refund_entry is not None
    assert redemption.process.status == PROCESS.CANCELED
    assert _redeemable(org.worker_a1) == 500 and _stock(cup) == 3
    twice = _act(api, org.worker_a1, pk, "cancel")
    assert twice.status_code == 400 and codes(twice) == ["not_open"]
    # The cancelled task left HR's queue.
    gone = _act(api, org.hr, pk, "fulfil" if approved_first else "approve")
    assert gone.status_code == 409 and codes(gone) == ["task_cancelled"]
    assert gone.json()["errors"][0]["message"].startswith("This task was cancelled")
    assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1
    assert ledger_verify() == []


def test_nobody_decides_on_their_own_redemption(org: Org, cup: Reward, api: Any) -> None:
    hr2 = org.member(org.company, "acme-hr2", role=Role.HR)
    pk = _requested(api, org.hr, cup)["id"]
    claimed = _act(api, org.hr, pk, "claim")  # not even taken from the queue
    assert claimed.status_code == 403 and codes(claimed) == ["permission_denied"]
    own = _act(api, org.hr, pk, "approve")
    assert own.status_code == 403 and codes(own) == ["permission_denied"]
    assert _act(api, org.hr, pk, "reject", reason="自己").status_code == 403
    assert Redemption.objects.get(pk=pk).status == RedemptionStatus.REQUESTED
    # Someone else's claim is not yours to give back; your own is.
    assert _act(api, hr2, pk, "claim").status_code == 200
    assert _act(api, org.hr, pk, "unclaim").status_code == 403
    assert _act(api, hr2, pk, "unclaim").json()["open_task"]["owner"] is None
    unclaimed = _act(api, hr2, pk, "unclaim")
    assert unclaimed.status_code == 409 and codes(unclaimed) == ["task_not_available"]
    assert _act(api, hr2, pk, "claim").status_code == 200
    assert _act(api, hr2, pk, "approve").json()["status"] == "approved"


def test_who_sees_which_redemptions(org: Org, other_org: Org, cup: Reward, api: Any) -> None:
    mine = _requested(api, org.worker_a1, cup)["id"]
    theirs = _requested(api, org.worker_b, cup)["id"]
    listed = api(org.worker_a1).get(REDEMPTIONS).json()
    assert [row["id"] for row in listed["results"]] == [mine]
    assert api(org.worker_a1).get(f"{REDEMPTIONS}{theirs}/").status_code == 404
    assert {r["id"] for r in api(org.hr).get(REDEMPTIONS).json()["results"]} == {mine, theirs}
    filtered = api(org.hr).get(REDEMPTIONS, {"member": org.worker_b.pk, "status": "requested"})
    assert [row["id"] for row in filtered.json()["results"]] == [theirs]
    bad = api(org.hr).get(REDEMPTIONS, {"status": "lost"})
    assert bad.status_code == 400 and fields(bad) == ["status"]
    # Another organisation's HR sees nothing and can act on nothing.
    outsider = other_org.hr
    assert api(outsider).get(REDEMPTIONS).json()["count"] == 0
    for step in ("claim", "approve", "reject", "cancel", "unclaim"):
        response = _act(api, outsider, mine, step, reason="x")
        assert response.status_code == 404 and codes(response) == ["not_found"], step
        # nor does a body the step would refuse tell them the redemption exists (400)
        empty = api(outsider).post(f"{REDEMPTIONS}{mine}/{step}/", {}, format="json")
        assert empty.status_code == 404, step
    assert api(outsider).get(f"{REDEMPTIONS}{mine}/").status_code == 404
    redemption = Redemption.objects.get(pk=mine)
    assert redemption.status == RedemptionStatus.REQUESTED
    task = RedemptionFlow.task_class.objects.get(
        process_id=redemption.process_id, flow_task=RedemptionFlow.approve
    )
    assert task.owner is None and task.status == STATUS.NEW
    assert api().get(REDEMPTIONS).status_code == 401


def test_redemption_list_is_a_flat_number_of_queries(org: Org, api: Any) -> None:
    def count() -> int:
        client = api(org.hr)
        client.get(REDEMPTIONS)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(REDEMPTIONS)
        assert response.status_code == 200
        return len(queries)

    cheap = _reward(org, name="贴纸", points_cost=10, stock=50)
    _requested(api, org.worker_a1, cheap)
    few = count()
    for member in (org.worker_b, org.leader_a1, org.leader_b, org.committee, org.recorder):
        pk = _requested(api, member, cheap)["id"]
        _act(api, org.hr, pk, "claim")
    assert count() == few
