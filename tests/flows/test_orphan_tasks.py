"""A task with no owner and no queue permission is, to viewflow, everybody's: listed in
every user's queue and claimable by anyone, in any organisation. Ours never give such a
task back, list it or let it be claimed (flows.tasklock)."""

from __future__ import annotations

from typing import Any

import pytest
from viewflow.workflow.status import STATUS

from flows.flows import DeclarationFlow, SummaryFlow
from tests.conftest import Org
from tests.flows.test_declaration_flow import _client, _declare, _open_task
from tests.flows.test_publicity import _approved, _open_summary
from tests.flows.test_publicity import rule as rule  # the fixture

pytestmark = pytest.mark.django_db


def test_an_assigned_summary_is_not_given_back_to_everybody(
    org: Org, other_org: Org, rule: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    summary = _open_summary(org)
    task = SummaryFlow.task_class.objects.get(
        process_id=summary.process_id, flow_task=SummaryFlow.prepare
    )
    url = f"/publicity/summary/{task.process_id}/prepare/{task.pk}/unassign/"
    assert _client(org.hr).post(url).status_code == 403
    task.refresh_from_db()
    assert task.owner == org.hr.user and task.status == STATUS.ASSIGNED


def test_an_orphan_task_is_in_nobodys_queue_and_nobody_claims_it(
    org: Org, other_org: Org, idea: Any
) -> None:
    _declare(org.worker_a1, idea)
    task = _open_task(org.leader_a1.user)
    # as a give-back by its owner used to leave it: no owner, no queue permission
    task.owner = None
    task.status = STATUS.NEW
    task.save()
    assert task.owner_permission in (None, "")
    stranger = _client(other_org.worker_a1)
    queue = stranger.get("/declarations/declaration/queue/").content.decode()
    assert f"/{task.pk}/assign/" not in queue
    assert "acme-worker-a1" not in queue  # nor in its filter's list of records
    home = stranger.get("/").content.decode()
    assert "待领取" not in home
    url = f"/declarations/declaration/{task.process_id}/review/{task.pk}/assign/"
    assert stranger.post(url).status_code in (403, 404)
    assert _client(org.leader_b).post(url).status_code in (403, 404)
    task.refresh_from_db()
    assert task.owner is None
    assert DeclarationFlow.task_class.objects.filter(pk=task.pk, owner__isnull=True).exists()


def test_the_api_does_not_list_an_orphan_task_either(org: Org, idea: Any) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    _declare(org.worker_a1, idea)
    task = _open_task(org.leader_a1.user)
    task.owner = None
    task.status = STATUS.NEW
    task.save()
    for member in (org.leader_a1, org.worker_a1, org.hr):
        client = APIClient()
        token, _created = Token.objects.get_or_create(user=member.user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        listed = client.get("/api/v1/tasks/queue/").json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert task.pk not in [row["id"] for row in rows], member
