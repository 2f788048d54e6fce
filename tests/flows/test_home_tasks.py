"""The home page counts the tasks waiting in a flow's queue for the user to claim (viewflow's
queue: unassigned tasks the user may take by the flow's permission), as many as that queue
page lists, linked to it; and it costs the same queries for one waiting task or many."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from flows.flows import RedemptionFlow
from flows.models import Redemption
from points.models import Reward
from tests.conftest import Org, queries_of
from tests.factories import RuleItemFactory
from tests.flows.test_publicity import _appeal, _published, _reexamine, _rule
from tests.flows.test_redemption import _client, _decide, _requested, _reward

pytestmark = pytest.mark.django_db

APPEAL_QUEUE = "/publicity/appeal/queue/"
REDEMPTION_QUEUE = "/shop/redemption/queue/"


def _home(member: Any) -> str:
    response = _client(member).get("/")
    assert response.status_code == 200
    return str(response.content.decode())


def _my_tasks(html: str) -> str:
    """The "your tasks" card, or "" when the page has none."""
    if 'id="my-tasks"' not in html:
        return ""
    return html.split('id="my-tasks"')[1].split("</section>")[0]


def _role_card(html: str, role: str) -> str:
    return html.split(f'id="role-{role}"')[1].split("</section>")[0]


def _queue_rows(client: Client, url: str) -> int:
    """How many tasks the queue page lists (one subject link per row)."""
    html = client.get(url).content.decode()
    return len(re.findall(r'<td class="vf-list__table-cell-[^"]*"><a ', html))


@pytest.fixture
def rule(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation, name="合理化建议", kind="award", points_min=10,
        points_max=100,
    )  # fmt: skip


@pytest.fixture
def cups(org: Org) -> Reward:
    return _reward(org, stock=10)


def _redemptions(org: Org, reward: Reward, members: list[Any]) -> list[Redemption]:
    return [_requested(org, member, reward) for member in members]


def test_the_committee_sees_the_appeal_waiting_for_its_ruling(
    org: Org, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    before = _home(org.committee)
    assert _my_tasks(before) == "" and "待裁定的申诉（0 项）" in before
    assert _appeal(org.worker_b, summary.items.get(member=org.worker_a1)).status_code == 302
    _reexamine(org)  # HR's re-examination done: the ruling waits in the committee's queue

    assert _queue_rows(_client(org.committee), APPEAL_QUEUE) == 1
    html = _home(org.committee)
    tasks = _my_tasks(html)
    assert f'href="{APPEAL_QUEUE}"' in tasks and "申诉：待领取 1 项" in tasks
    committee = _role_card(html, "committee")
    assert f'href="{APPEAL_QUEUE}"' in committee and "待裁定的申诉（1 项）" in committee
    # Every committee member may claim it; nobody else sees it waiting.
    assert "申诉：待领取 1 项" in _my_tasks(_home(committee2))
    assert "待领取" not in _home(org.worker_b) and "待领取" not in _home(org.leader_a)

    # Claimed by one committee member, it is their task and no longer anyone's to claim.
    assert _rule(org.committee, "uphold").status_code == 302
    assert "待领取" not in _home(org.committee) and "待领取" not in _home(committee2)


def test_hr_sees_the_redemptions_waiting_in_the_queue(
    org: Org, other_org: Org, cups: Reward
) -> None:
    _redemptions(org, cups, [org.worker_a1, org.worker_b])
    client = _client(org.hr)
    assert _queue_rows(client, REDEMPTION_QUEUE) == 2
    html = _home(org.hr)
    tasks = _my_tasks(html)
    assert f'href="{REDEMPTION_QUEUE}"' in tasks and "积分兑换：待领取 2 项" in tasks
    hr = _role_card(html, "hr")
    assert f'href="{REDEMPTION_QUEUE}"' in hr and "待处理的兑换（2 项）" in hr
    # HR of another organisation may not claim them (the permission is on the organisation).
    assert _queue_rows(_client(other_org.hr), REDEMPTION_QUEUE) == 0
    other = _home(other_org.hr)
    assert _my_tasks(other) == "" and "待处理的兑换（0 项）" in other

    # One approved: its fulfilment waits in the queue again; the other is still waiting.
    first = Redemption.objects.get(member=org.worker_a1)
    assert _decide(org.hr, RedemptionFlow.approve, first, "approve").status_code == 302
    assert _queue_rows(client, REDEMPTION_QUEUE) == 2
    assert "积分兑换：待领取 2 项" in _my_tasks(_home(org.hr))


def test_home_queries_do_not_grow_with_the_waiting_tasks(
    org: Org, cups: Reward, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    _redemptions(org, cups, [org.worker_a1])
    assert _appeal(org.worker_b, summary.items.get(member=org.worker_a1)).status_code == 302
    _reexamine(org)
    hr, committee = _client(org.hr), _client(org.committee)
    few = {"hr": queries_of(hr, "/"), "committee": queries_of(committee, "/")}

    _redemptions(org, cups, [org.worker_b, org.leader_a1, org.leader_b, org.recorder])
    assert _appeal(org.worker_a1, summary.items.get(member=org.worker_b)).status_code == 302
    _reexamine(org)
    assert "积分兑换：待领取 5 项" in _my_tasks(_home(org.hr))
    assert "申诉：待领取 2 项" in _my_tasks(_home(org.committee))
    assert queries_of(hr, "/") <= few["hr"]
    assert queries_of(committee, "/") <= few["committee"]
    assert max(few.values()) <= 30, few
