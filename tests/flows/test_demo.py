"""seed_demo leaves declarations at every step, idempotently; the demo leader has work."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from viewflow.workflow.models import Task

from flows.models import Declaration
from points.demo.seed import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def test_demo_declarations_at_every_step_and_a_full_inbox() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    from tests.flows.test_imports import demo_leaves_one_completed_import

    demo_leaves_one_completed_import()  # on the same seeding (most of a minute on PostgreSQL)
    statuses = set(Declaration.objects.values_list("status", flat=True))
    assert statuses == {"submitted", "returned", "escalated", "approved", "rejected", "withdrawn"}
    assert Declaration.objects.count() == 7
    departments = set(Declaration.objects.values_list("member__unit__parent__code", flat=True))
    assert len(departments) >= 2

    client = Client()
    assert client.login(username="leader", password=DEMO_PASSWORD)
    task = Task.objects.get(owner__username="leader", status="ASSIGNED")
    url = f"/declarations/declaration/{task.process_id}/review/{task.pk}/execute/"
    html = client.get(url).content.decode()
    assert "烘干机" in html
    assert "1" in client.get("/").content.decode()

    from flows.models import AwardNotice

    assert set(AwardNotice.objects.values_list("status", flat=True)) == {
        "approved",
        "awaiting_signature",
    }
