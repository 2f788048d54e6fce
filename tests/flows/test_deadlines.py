"""Review deadlines: a reminder after N days, escalation to the next level after M days
(timers fired in the test by travelling in time)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from viewflow.workflow.models import Task

from flows.models import Declaration, DeclarationStatus
from flows.tasks import declaration_deadlines
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _decide, _declare

pytestmark = pytest.mark.django_db


def test_reminder_then_escalation_then_the_new_reviewer_decides(
    org: Org, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    for member in (org.leader_a1, org.leader_a):
        member.user.email = f"{member.user.username}@example.com"
        member.user.save()
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10
    )
    _declare(org.worker_a1, rule)
    assert declaration_deadlines.delay().get() == {"reminded": 0, "escalated": 0}

    with (
        time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),  # 3 days later
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert declaration_deadlines.delay().get() == {"reminded": 1, "escalated": 0}
        assert declaration_deadlines.delay().get() == {"reminded": 0, "escalated": 0}
    assert [m.to for m in mail.outbox] == [["acme-leader-a1@example.com"]]

    with (
        time_machine.travel(datetime(2026, 11, 26, 10, 0, tzinfo=UTC)),  # 6 days later
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert declaration_deadlines.delay().get() == {"reminded": 0, "escalated": 1}
        assert declaration_deadlines.delay().get() == {"reminded": 0, "escalated": 0}
    declaration = Declaration.objects.get()
    assert declaration.status == DeclarationStatus.ESCALATED
    assert declaration.reviewer == org.leader_a.user
    assert Task.objects.get(status="ASSIGNED").owner == org.leader_a.user
    assert mail.outbox[-1].to == ["acme-leader-a@example.com"]

    with (
        time_machine.travel(datetime(2026, 11, 29, 10, 0, tzinfo=UTC)),  # 3 days in their turn
        django_capture_on_commit_callbacks(execute=True),
    ):  # the new reviewer is reminded in their turn, as the first one was
        assert declaration_deadlines.delay().get() == {"reminded": 1, "escalated": 0}
        assert declaration_deadlines.delay().get() == {"reminded": 0, "escalated": 0}
    assert mail.outbox[-1].to == ["acme-leader-a@example.com"]
    assert mail.outbox[-1].subject.endswith("有一份申报等待您审核")

    _decide(org.leader_a, "approve")
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.APPROVED
