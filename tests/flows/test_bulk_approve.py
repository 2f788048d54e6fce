"""Approving several declarations at once: each as its own review page would approve it,
only the reviewer's own tasks, each in its own transaction; the refused ones are named."""

from __future__ import annotations

from typing import Any

import pytest
from viewflow.workflow.status import STATUS

from flows.flows import DeclarationFlow
from flows.models import Declaration, DeclarationStatus
from points.models import AuditEvent
from tests.conftest import Org, queries_of
from tests.factories import AuthorityTierFactory
from tests.flows.test_declaration_flow import _client, _declare, _task_url

pytestmark = pytest.mark.django_db
BULK = "/declarations/declaration/bulk-approve/"
INBOX = "/declarations/declaration/inbox/"


def _tasks(user: Any) -> list[Any]:
    return list(
        DeclarationFlow.task_class.objects.filter(
            flow_task=DeclarationFlow.review, owner=user, status=STATUS.ASSIGNED
        ).order_by("pk")
    )


def _messages(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_ticked_declarations_are_approved_into_the_pool(org: Org, idea: Any) -> None:
    for _ in range(3):
        _declare(org.worker_a1, idea)
    first, second, third = _tasks(org.leader_a1.user)
    client = _client(org.leader_a1)
    html = client.get(BULK).content.decode()
    assert html.count('name="task"') == 3 and "acme-worker-a1 · 合理化建议 · +10 分" in html
    response = client.post(BULK, {"task": [first.pk, third.pk]}, follow=True)
    assert "已批准 2 份；0 份超出您的权限，已转上一级审批。" in _messages(response)
    approved = Declaration.objects.filter(status=DeclarationStatus.APPROVED)
    assert {d.process_id for d in approved} == {first.process_id, third.process_id}
    assert all(item.pool_month for d in approved for item in d.items.all())
    assert AuditEvent.objects.filter(action="declaration.approve").count() == 2
    assert _tasks(org.leader_a1.user) == [second]  # the unticked one waits
    # each process went on to its end, as from the review page
    assert all(d.process.finished is not None for d in approved)


def test_above_the_reviewers_tier_it_escalates(org: Org, idea: Any) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=5
    )
    org.team_a1.save()
    _declare(org.worker_a1, idea)
    (task,) = _tasks(org.leader_a1.user)
    response = _client(org.leader_a1).post(BULK, {"task": [task.pk]}, follow=True)
    assert "已批准 0 份；1 份超出您的权限，已转上一级审批。" in _messages(response)
    assert Declaration.objects.get().status == DeclarationStatus.ESCALATED
    assert len(_tasks(org.leader_a.user)) == 1


def test_another_reviewers_task_is_refused_and_the_rest_go_through(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    _declare(org.worker_b, idea)
    (mine,) = _tasks(org.leader_a1.user)
    (theirs,) = _tasks(org.leader_b.user)
    response = _client(org.leader_a1).post(
        BULK, {"task": [theirs.pk, mine.pk, "x", 10**9]}, follow=True
    )
    shown = _messages(response)
    assert "已批准 1 份；0 份超出您的权限，已转上一级审批。" in shown
    refused = next(m for m in shown if m.startswith("未批准："))
    for task_id in (theirs.pk, 10**9):  # alike: nothing is told of others' tasks
        assert f"#{task_id}: 这不是等待您审核的申报。" in refused
    assert Declaration.objects.get(member=org.worker_b).status == DeclarationStatus.SUBMITTED
    assert _tasks(org.leader_b.user) == [theirs]


def test_a_task_already_decided_is_named_not_decided_twice(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    (task,) = _tasks(org.leader_a1.user)
    client = _client(org.leader_a1)
    client.post(BULK, {"task": [task.pk]})
    response = client.post(BULK, {"task": [task.pk]}, follow=True)
    assert any(m.startswith(f"未批准：#{task.pk}: ") for m in _messages(response))
    assert AuditEvent.objects.filter(action="declaration.approve").count() == 1


def test_a_declaration_withdrawn_since_the_page_was_shown_is_named_so(org: Org, idea: Any) -> None:
    _declare(org.worker_a1, idea)
    _declare(org.worker_a1, idea)
    first, second = _tasks(org.leader_a1.user)
    withdrawn = Declaration.objects.get(process_id=first.process_id)
    _client(org.worker_a1).post(
        f"/declarations/declaration/withdraw/{withdrawn.pk}/", {"confirm": "1", "reason": "报错"}
    )
    response = _client(org.leader_a1).post(BULK, {"task": [first.pk, second.pk]}, follow=True)
    shown = _messages(response)
    assert "已批准 1 份；0 份超出您的权限，已转上一级审批。" in shown
    assert f"未批准：#{first.pk}: 此任务已取消（其记录已撤回或取消），无需再处理。" in shown
    withdrawn.refresh_from_db()
    assert withdrawn.status == DeclarationStatus.WITHDRAWN
    assert not withdrawn.items.filter(pool_month__isnull=False).exists()


@pytest.mark.parametrize("ticked", [[], ["x"], ["²"], [str(10**30)], ["-1"]])
def test_nothing_ticked_says_so(org: Org, idea: Any, ticked: list[str]) -> None:
    """Nothing, or nothing that could be a task's number ("²" passes ``str.isdigit``)."""
    _declare(org.worker_a1, idea)
    response = _client(org.leader_a1).post(BULK, {"task": ticked}, follow=True)
    assert "请至少勾选一份要批准的申报。" in _messages(response)
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_the_inbox_offers_it_from_two_declarations(org: Org, idea: Any) -> None:
    client = _client(org.leader_a1)
    _declare(org.worker_a1, idea)
    assert BULK not in client.get(INBOX).content.decode()
    _declare(org.worker_a1, idea)
    assert f'href="{BULK}"' in client.get(INBOX).content.decode()
    assert "没有等待您审核的申报。" in _client(org.worker_b).get(BULK).content.decode()
    # a declarant's two returned declarations are no reviews
    for task in _tasks(org.leader_a1.user):
        client.post(_task_url(task), {"action": "return", "reason": "请补充地点"})
    inbox = _client(org.worker_a1).get(INBOX).content.decode()
    assert inbox.count("/revise/") == 2 and BULK not in inbox


def test_the_page_costs_the_same_queries_for_any_number_of_declarations(
    org: Org, idea: Any
) -> None:
    def queries() -> int:
        return queries_of(_client(org.leader_a1), BULK)

    _declare(org.worker_a1, idea)
    few = queries()
    for _ in range(5):
        _declare(org.worker_a1, idea)
    assert queries() <= few
