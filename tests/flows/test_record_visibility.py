"""What the record pages show depends on who looks: the committee's reasons for rejecting a
summary are HR's and the committee's, and a task's claim and give-back pages (which show the
record) are only for those who may see its process, and only while the task is theirs."""

from __future__ import annotations

from typing import Any

import pytest

from flows.flows import RedemptionFlow
from flows.models import Summary, SummaryStatus
from tests.conftest import Org
from tests.flows.test_declaration_flow import _client
from tests.flows.test_publicity import _approved, _open_summary, _sign, _submit
from tests.flows.test_publicity import rule as rule  # the fixture
from tests.flows.test_redemption import _decide, _requested, _task, _task_url
from tests.flows.test_redemption import cup as cup  # the fixture

pytestmark = pytest.mark.django_db


def test_the_committees_reasons_are_not_shown_to_every_member(
    org: Org, rule: Any, committee2: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    summary = _open_summary(org)
    _submit(org)
    assert _sign(org.committee, summary, "reject", reason="委员会内部意见：再核").status_code == 302
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    summary = Summary.objects.get()
    assert summary.status == SummaryStatus.PUBLICITY and summary.rejection_reasons
    url = f"/publicity/summary/{summary.process_id}/"
    worker = _client(org.worker_a1).get(url)
    assert worker.status_code == 200 and "委员会内部意见" not in worker.content.decode()
    assert "委员会内部意见" in _client(org.hr).get(url).content.decode()


def test_a_done_task_is_not_given_back_nor_its_page_shown(org: Org, cup: Any) -> None:
    redemption = _requested(org, org.worker_a1, cup)
    task = _task(RedemptionFlow.approve, redemption)
    assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302
    task.refresh_from_db()
    assert task.status == "DONE" and task.owner == org.hr.user
    # viewflow let its owner open the give-back page of a task long done, record and all
    assert _client(org.hr).get(_task_url(task, "unassign")).status_code == 403
