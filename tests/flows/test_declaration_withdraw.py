"""The member, or the recorder who declared for them, withdraws a declaration not decided
yet (撤回): waiting for review, escalated, or returned to them. It leaves the reviewer's
inbox, its process is cancelled, nothing of it reaches the pending pool, the reviewer is
told, and the withdrawal is audited. Anyone else cannot; a decided one cannot be."""

from __future__ import annotations

from typing import Any

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.models import Declaration, DeclarationItem, DeclarationStatus
from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import AuthorityTierFactory
from tests.flows.test_declaration_flow import (
    _client,
    _decide,
    _declare,
    _open_task,
    _said,
    _task_url,
)

pytestmark = pytest.mark.django_db


def _url(declaration: Declaration) -> str:
    return f"/declarations/declaration/withdraw/{declaration.pk}/"


def _withdraw(member: Any, declaration: Declaration, reason: str = "报错了规则") -> Any:
    return _client(member).post(_url(declaration), {"confirm": "1", "reason": reason})


def _declared(org: Org, idea: Any, **kwargs: Any) -> Declaration:
    """worker A1 declares ``idea`` (the shared fixed 10-point rule); leader A1 reviews."""
    assert _declare(org.worker_a1, idea, **kwargs).status_code == 302
    return Declaration.objects.get()


def test_the_member_withdraws_a_declaration_waiting_for_review(org: Org, idea: Any) -> None:
    declaration = _declared(org, idea)
    task = _open_task(org.leader_a1.user)
    member = _client(org.worker_a1)
    process_page = member.get(f"/declarations/declaration/{declaration.process_id}/")
    assert _url(declaration) in process_page.content.decode(), "the page offers it"
    listed = member.get("/declarations/declaration/").content.decode()
    assert _url(declaration) in listed and ">撤回</a>" in listed, "so does the list"
    reviewers_list = _client(org.leader_a1).get("/declarations/declaration/").content.decode()
    assert f">{declaration.pk}</a>" in reviewers_list, "the reviewer sees it..."
    assert _url(declaration) not in reviewers_list, "...without the link"
    confirm = member.get(_url(declaration))
    assert confirm.status_code == 200
    assert "撤回申报" in confirm.content.decode()
    assert "合理化建议" in confirm.content.decode(), "the page shows what is withdrawn"
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED, "a GET only asks"

    response = member.post(_url(declaration), {"confirm": "1", "reason": "报错了规则"})
    assert response.status_code == 302
    assert response["Location"] == f"/declarations/declaration/{declaration.process_id}/"
    assert _said(response) == [f"申报 #{declaration.pk} 已撤回。"]
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.WITHDRAWN
    assert declaration.decision_reason == "报错了规则"
    task.refresh_from_db()
    assert task.status == STATUS.CANCELED
    assert declaration.process.status == PROCESS.CANCELED
    assert not Task.objects.filter(owner=org.leader_a1.user, status=STATUS.ASSIGNED).exists()
    inbox = _client(org.leader_a1).get("/declarations/declaration/inbox/").content.decode()
    assert f"/{task.pk}/" not in inbox
    told = org.leader_a1.user.notifications.get(subject="有申报被撤回")
    assert f"#{declaration.pk}" in told.body and "理由：报错了规则" in told.body
    assert not org.worker_a1.user.notifications.filter(subject="有申报被撤回").exists()
    audit = AuditEvent.objects.get(action="declaration.withdraw")
    assert audit.actor == org.worker_a1.user and audit.data["reason"] == "报错了规则"
    # the reviewer's page, opened or sent after the withdrawal, acts on nothing and says why
    leader = _client(org.leader_a1)
    for sent in (leader.get(_task_url(task)), leader.post(_task_url(task), {"action": "approve"})):
        assert sent.status_code == 302
        assert sent["Location"] == f"/declarations/declaration/{declaration.process_id}/"
        assert _said(sent)[-1] == "此任务已取消（其记录已撤回或取消），无需再处理。"
    assert not DeclarationItem.objects.filter(pool_month__isnull=False).exists()
    page = member.get(f"/declarations/declaration/{declaration.process_id}/").content.decode()
    assert "已撤回" in page and _url(declaration) not in page
    assert _url(declaration) not in member.get("/declarations/declaration/").content.decode()
    assert "撤回理由" in page, "the member's reason is not shown as the reviewer's"
    # sent again (a double tap): it is withdrawn, and nothing more is written
    again = member.post(_url(declaration), {"confirm": "1", "reason": "报错了规则"})
    assert again.status_code == 302 and _said(again) == [f"申报 #{declaration.pk} 已撤回。"]
    assert AuditEvent.objects.filter(action="declaration.withdraw").count() == 1


def test_the_recorder_who_declared_withdraws_and_the_returned_one_too(org: Org, idea: Any) -> None:
    """A returned declaration waits in its declarant's inbox to be revised: withdrawing it
    cancels that task; the reviewer, who has nothing waiting, is not told."""
    recorder = _client(org.recorder)
    response = _declare(org.recorder, idea, for_member=org.worker_a1)
    assert response.status_code == 302
    declaration = Declaration.objects.get()
    assert _decide(org.leader_a1, "return", reason="请补充说明").status_code == 302
    revise = _open_task(org.recorder.user)
    revise_page = recorder.get(_task_url(revise)).content.decode()
    assert _url(declaration) in revise_page, "the revise page offers it instead"

    assert _withdraw(org.recorder, declaration).status_code == 302
    declaration.refresh_from_db()
    revise.refresh_from_db()
    assert declaration.status == DeclarationStatus.WITHDRAWN
    assert revise.status == STATUS.CANCELED
    assert not org.leader_a1.user.notifications.filter(subject="有申报被撤回").exists()
    # the member whose points they were is told; the recorder, who withdrew it, is not
    assert org.worker_a1.user.notifications.filter(subject="有申报被撤回").count() == 1
    assert not org.recorder.user.notifications.filter(subject="有申报被撤回").exists()


def test_an_escalated_declaration_is_withdrawn_from_the_next_level(org: Org, idea: Any) -> None:
    AuthorityTierFactory(organisation=org.organisation, name="班组", max_points=5)
    org.team_a1.authority_tier = org.organisation.authority_tiers.get()
    org.team_a1.save()
    declaration = _declared(org, idea)
    assert _decide(org.leader_a1, "approve").status_code == 302
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.ESCALATED
    assert _withdraw(org.worker_a1, declaration).status_code == 302
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.WITHDRAWN
    assert org.leader_a.user.notifications.filter(subject="有申报被撤回").exists()
    assert not Task.objects.filter(owner=org.leader_a.user, status=STATUS.ASSIGNED).exists()


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decided_declaration_cannot_be_withdrawn(org: Org, idea: Any, decision: str) -> None:
    declaration = _declared(org, idea)
    assert _decide(org.leader_a1, decision, reason="不符合").status_code == 302
    declaration.refresh_from_db()
    status = declaration.status
    member = _client(org.worker_a1)
    page = member.get(_url(declaration)).content.decode()
    assert "不能再撤回" in page and 'id="withdraw-confirm"' not in page
    response = _withdraw(org.worker_a1, declaration)
    assert response.status_code == 302
    outcome = "已批准" if decision == "approve" else "已驳回"
    assert _said(response) == [f"此申报{outcome}，不能再撤回。"]
    declaration.refresh_from_db()
    assert declaration.status == status
    assert not AuditEvent.objects.filter(action="declaration.withdraw").exists()
    process_page = member.get(f"/declarations/declaration/{declaration.process_id}/")
    assert _url(declaration) not in process_page.content.decode()


@pytest.mark.parametrize("who", ["leader_a1", "worker_b", "hr", "leader_a"])
def test_nobody_else_withdraws_it(org: Org, idea: Any, who: str) -> None:
    """The reviewer, another member, HR and the leader above, who may see it or not: 404,
    and the process page offers them no button."""
    declaration = _declared(org, idea)
    client = _client(getattr(org, who))
    assert client.get(_url(declaration)).status_code == 404
    assert _withdraw(getattr(org, who), declaration).status_code == 404
    page = client.get(f"/declarations/declaration/{declaration.process_id}/")
    assert _url(declaration) not in page.content.decode()
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED


def test_anonymous_is_sent_to_log_in(org: Org, idea: Any) -> None:
    from django.test import Client

    declaration = _declared(org, idea)
    response = Client().post(_url(declaration), {"confirm": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_without_the_confirmation_nothing_is_withdrawn(org: Org, idea: Any) -> None:
    declaration = _declared(org, idea)
    response = _client(org.worker_a1).post(_url(declaration), {"reason": "x"})
    assert response.status_code == 200
    assert "没有撤回任何内容" in response.content.decode()
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_a_reason_is_escaped_and_kept_to_its_length(org: Org, idea: Any) -> None:
    declaration = _declared(org, idea)
    too_long = _client(org.worker_a1).post(
        _url(declaration), {"confirm": "1", "reason": "长" * 501}
    )
    assert too_long.status_code == 200 and "不超过 500" in too_long.content.decode()
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED
    assert (
        _withdraw(org.worker_a1, declaration, reason="<script>alert(1)</script>").status_code == 302
    )
    page = _client(org.worker_a1).get(f"/declarations/declaration/{declaration.process_id}/")
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_the_reviewer_deciding_first_wins(org: Org, idea: Any) -> None:
    """The reviewer's decision and the withdrawal are one after the other on the task's row
    lock: whichever comes second is refused (the PostgreSQL lock tests cover at once)."""
    declaration = _declared(org, idea)
    confirm = _client(org.worker_a1).get(_url(declaration))
    assert 'id="withdraw-confirm"' in confirm.content.decode()  # the page was open...
    assert _decide(org.leader_a1, "approve").status_code == 302  # ...when the leader approved
    response = _withdraw(org.worker_a1, declaration)
    assert _said(response) == ["此申报已批准，不能再撤回。"]
    assert Declaration.objects.get().status == DeclarationStatus.APPROVED
