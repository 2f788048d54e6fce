"""Every human task of every flow is a ``LockedView``: its page takes the task's row lock
before the record's, the order the API and the services take (``flows.tasklock``; the
PostgreSQL tests of concurrent approvals and withdrawals show the deadlock otherwise)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from guardian.shortcuts import assign_perm
from viewflow.workflow import flow
from viewflow.workflow.models import Task

from flows.flows import AppealFlow, AwardNoticeFlow, DeclarationFlow, RedemptionFlow, SummaryFlow
from flows.tasklock import LockedView, prime_queue_permissions
from tests.conftest import Org, queries_of
from tests.flows.test_publicity import _client


def test_every_human_task_page_locks_the_task_row_first() -> None:
    views = [
        node
        for flow_class in (
            DeclarationFlow,
            AwardNoticeFlow,
            SummaryFlow,
            AppealFlow,
            RedemptionFlow,
        )
        for node in flow_class.instance.nodes()
        if isinstance(node, flow.View)
    ]
    assert len(views) == 8
    assert [node.name for node in views if not isinstance(node, LockedView)] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/", "/publicity/summary/", "/shop/redemption/queue/", "/publicity/appeal/queue/"]
)
def test_a_page_s_queries_do_not_grow_with_the_object_permissions_held(
    org: Org, other_org: Org, url: str
) -> None:
    """viewflow's queue (the flow menus' counts, the queue pages, home's counts) read two
    more queries for each object permission the user holds; primed, it reads one in all."""
    client = _client(org.hr)
    client.get(url)  # warm per-process caches
    before = queries_of(client, url)
    for perm in ("points.rule_appeal", "points.handle_redemption", "points.reexamine_appeal"):
        assign_perm(perm, org.hr.user, other_org.organisation)
    assert queries_of(client, url) == before


@pytest.mark.django_db
def test_primed_permissions_match_viewflow_s_own_reading(org: Org, other_org: Org) -> None:
    assign_perm("points.rule_appeal", org.committee.user, other_org.organisation)
    group = Group.objects.create(name="queue-test")
    assign_perm("points.handle_redemption", group, other_org.organisation)
    org.committee.user.groups.add(group)
    user = type(org.committee.user).objects.get(pk=org.committee.user_id)
    unprimed = list(Task.objects.user_queue(user))  # viewflow reads and caches its own set
    viewflows = set(user._viewflow_per_object_perm_cache)
    fresh = type(user).objects.get(pk=user.pk)
    prime_queue_permissions(fresh)
    assert set(fresh._viewflow_per_object_perm_cache) == viewflows
    assert f"points.handle_redemption_{other_org.organisation.pk}" in viewflows
    assert list(Task.objects.user_queue(fresh)) == unprimed


@pytest.mark.django_db
def test_a_task_created_between_the_two_locks_takes_them_again(org: Org, idea: Any) -> None:
    """``tasks_then_record_lock``: when the process's open tasks change while it waits (a
    review that escalated, a revision sent back: a new task row it did not lock), it gives
    both locks back and takes them again, so the new row is locked before the record; if
    they keep changing, the user is asked to try again and nothing is written."""
    from django.core.exceptions import ValidationError

    from flows.models import Declaration
    from flows.tasklock import LOCK_ATTEMPTS, tasks_then_record_lock
    from tests.flows.test_declaration_flow import _declare

    assert _declare(org.worker_a1, idea).status_code == 302
    declaration = Declaration.objects.get()
    review = Task.objects.get(process=declaration.process, flow_task=DeclarationFlow.review)
    calls: list[int] = []

    def lock_record(changes: int) -> Declaration:
        calls.append(1)
        if len(calls) <= changes:  # another request finished the task and made the next
            Task.objects.create(
                process=declaration.process,
                flow_task=DeclarationFlow.review,
                status="ASSIGNED",
                owner=org.leader_a.user,
            )
        return Declaration.objects.select_for_update().get(pk=declaration.pk)

    assert (
        tasks_then_record_lock(
            process_id=declaration.process_id, lock_record=lambda: lock_record(1)
        )
        == declaration
    )
    assert len(calls) == 2, "taken again once"
    # (made inside the first attempt here, the new task went with its savepoint)
    assert list(Task.objects.filter(process=declaration.process, status="ASSIGNED")) == [review]

    calls.clear()
    with pytest.raises(ValidationError) as refused:
        tasks_then_record_lock(
            process_id=declaration.process_id, lock_record=lambda: lock_record(LOCK_ATTEMPTS)
        )
    assert len(calls) == LOCK_ATTEMPTS
    assert refused.value.messages == ["您操作期间此事项已有变动，请重试。"]
    assert Task.objects.filter(process=declaration.process, status="ASSIGNED").count() == 1
