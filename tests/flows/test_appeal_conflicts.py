"""Nobody handles an appeal that concerns them: the HR re-examination (二次核查) never goes to
the appellant nor to the member whose item is appealed, through the real path (the test
client, the flow, the database). When the appeal concerns every active HR officer, the task
waits in HR's queue (no one it concerns may take it) and the administrators are told; an HR
officer appointed later takes it from there."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone, translation
from guardian.shortcuts import remove_perm
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.status import STATUS

from flows.flows import HR_QUEUE_PERMISSION, AppealFlow, inbox_home_context
from flows.models import Appeal, AppealStatus, Notification, Summary
from flows.publicity import appeal_deadlines_run, appeal_reexamine, appeal_reexaminer
from points.models import Member
from points.roles import Role
from tests.conftest import Org
from tests.flows.test_publicity import (
    _appeal,
    _approved,
    _client,
    _hr2,
    _open_summary,
    _published,
    _reexamine,
    _sign,
    _submit,
    _task,
    _url,
    rule,
)
from tests.flows.test_publicity_permissions import TASK_ACTIONS

__all__ = ["rule"]  # a fixture, imported for pytest to find

pytestmark = pytest.mark.django_db

APPEALS = "/publicity/appeal/"
DENIED = (403, 404, 405)


def _zh(msgid: str) -> str:
    """What a user of the default language reads for ``msgid``."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def _told(member: Member, msgid: str) -> bool:
    return Notification.objects.filter(user=member.user, subject=_zh(msgid)).exists()


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _reexamine_task() -> Any:
    return _task(AppealFlow, AppealFlow.reexamine)


def _denied(response: Any) -> bool:
    """Refused, or sent somewhere that is neither the login nor a task's form."""
    if response.status_code == 302:
        location = response.get("Location", "")
        return "/accounts/login/" not in location and "/execute/" not in location
    return response.status_code in DENIED


def _may_not_touch(member: Member, task: Any, *, concerned: bool = True) -> None:
    """``member`` can neither take, give back nor act on the re-examination, on the web
    page or through the API; the service refuses them too when the appeal concerns them (an
    HR officer it does not concern is kept off a task assigned to another by the flow). The
    appeal stays as it was."""
    client = _client(member)
    client.raise_request_exception = False
    base = f"{APPEALS}{task.process_id}/reexamine/{task.pk}/"
    for action in TASK_ACTIONS:
        if action == "execute/":
            assert client.get(base + action).status_code in DENIED, action
        assert _denied(client.post(base + action, {"findings": "本人核查：无问题"})), action
    appeal = Appeal.objects.get(process_id=task.process_id)
    if concerned:
        with pytest.raises(PermissionDenied):
            appeal_reexamine(appeal=appeal, user=member.user, findings="本人核查：无问题")
    token, _created = Token.objects.get_or_create(user=member.user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.post(
        f"/api/v1/appeals/{appeal.pk}/reexamine/", {"findings": "本人核查"}, format="json"
    )
    assert response.status_code == 403, response.content
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.REEXAMINATION and not appeal.findings
    assert appeal.reexamined_by is None


def _hr_item_published(org: Org, rule: Any, committee2: Member) -> Summary:
    """HR's own item (approved by the CEO, HR's superior) published in a batch HR opened."""
    _approved(org, rule, org.hr, org.ceo, 30)
    summary = _open_summary(org)
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    return summary


# --- another HR officer re-examines --------------------------------------------------------


def test_an_appeal_hr_lodges_is_reexamined_by_another_hr_officer(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _published(org, rule, committee2)  # HR (org.hr) opened the summary
    hr2 = _hr2(org)
    hr3 = org.member(org.company, "acme-hr3", role=Role.HR)
    item = summary.items.get(member=org.worker_a1)
    response = _appeal(org.hr, item, reason="发现弄虚作假")
    assert response.status_code == 302
    assert _messages(response) == [
        _zh("Your appeal was lodged; the item is held until the ruling.")
    ]
    task = _reexamine_task()
    # The first HR officer the appeal does not concern, by a stable order: hr2, not hr3.
    assert task.owner == hr2.user and task.status == STATUS.ASSIGNED
    assert _told(hr2, "An appeal waits for re-examination")
    assert not _told(org.hr, "An appeal waits for re-examination")
    assert not _told(hr3, "An appeal waits for re-examination")
    # The appellant may follow the appeal but not re-examine it; nor may the other HR.
    assert _client(org.hr).get(_url(APPEALS, task, "detail")).status_code == 200
    _may_not_touch(org.hr, task)
    _may_not_touch(hr3, task, concerned=False)  # assigned to hr2
    # The one it is assigned to re-examines it.
    _reexamine(org, by=hr2)
    appeal = Appeal.objects.get()
    assert appeal.status == AppealStatus.RULING and appeal.reexamined_by == hr2.user


def test_an_appeal_on_an_hr_officers_own_item_goes_to_another_hr_officer(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _hr_item_published(org, rule, committee2)
    hr2 = _hr2(org)
    item = summary.items.get(member=org.hr)
    assert _appeal(org.worker_b, item).status_code == 302
    task = _reexamine_task()
    assert task.owner == hr2.user  # not the summary's HR: the item is theirs
    assert not _told(org.hr, "An appeal waits for re-examination")
    _may_not_touch(org.hr, task)
    _reexamine(org, by=hr2)
    assert Appeal.objects.get().status == AppealStatus.RULING


def test_an_hr_officer_appealing_another_hr_officers_item_leaves_it_to_a_third(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _hr_item_published(org, rule, committee2)
    hr2 = _hr2(org)
    hr3 = org.member(org.company, "acme-hr3", role=Role.HR)
    item = summary.items.get(member=org.hr)
    assert _appeal(hr2, item).status_code == 302
    task = _reexamine_task()
    assert task.owner == hr3.user
    _may_not_touch(org.hr, task)
    _may_not_touch(hr2, task)


def test_the_summarys_hr_keeps_the_appeals_that_do_not_concern_them(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _published(org, rule, committee2)
    hr2 = _hr2(org)  # created after the summary's HR; it would come second anyway
    assert _appeal(org.worker_b, summary.items.get(member=org.worker_a1)).status_code == 302
    assert _reexamine_task().owner == org.hr.user
    assert appeal_reexaminer(appeal=Appeal.objects.get()) == org.hr.user
    assert not _told(hr2, "An appeal waits for re-examination")


# --- nobody may: it waits in HR's queue ----------------------------------------------------


def test_with_a_single_hr_officer_their_appeal_waits_in_the_hr_queue(
    org: Org, other_org: Org, rule: Any, committee2: Member
) -> None:
    summary = _published(org, rule, committee2)
    item = summary.items.get(member=org.worker_a1)
    response = _appeal(org.hr, item, reason="发现弄虚作假")
    assert response.status_code == 302
    [said] = _messages(response)
    assert _zh("Your appeal was lodged; the item is held until the ruling.") in said
    assert "管理员" in said  # whom the appellant waits on
    task = _reexamine_task()
    assert task.owner is None and task.status == STATUS.NEW
    assert task.owner_permission == HR_QUEUE_PERMISSION
    assert task.owner_permission_obj_pk == str(org.organisation.pk)
    # The administrators are told to appoint another HR officer; the appellant is not
    # asked to re-examine.
    assert _told(org.admin, "No HR officer may re-examine an appeal")
    assert not _told(org.hr, "An appeal waits for re-examination")
    _may_not_touch(org.hr, task)
    # Nor is it offered to the appellant: not in his queue, nor counted on his home page.
    assert f"/reexamine/{task.pk}/" not in _client(org.hr).get(f"{APPEALS}queue/").content.decode()
    assert inbox_home_context(org.hr.user)["queues"] == []
    # Nobody else may take it: not a member, not the committee, not another
    # organisation's HR (who does not see it in their queue either).
    for member in (org.worker_a1, org.worker_b, org.committee, org.admin, other_org.hr):
        client = _client(member)
        assert _denied(client.post(_url(APPEALS, task, "assign"))), member
        assert f"/reexamine/{task.pk}/" not in client.get(f"{APPEALS}queue/").content.decode()
    task.refresh_from_db()
    assert task.owner is None and task.status == STATUS.NEW
    # An HR officer appointed later finds it in HR's queue, takes it and re-examines.
    hr2 = _hr2(org)
    client = _client(hr2)
    assert f"/reexamine/{task.pk}/" in client.get(f"{APPEALS}queue/").content.decode()
    assert client.post(_url(APPEALS, task, "assign")).status_code == 302
    task.refresh_from_db()
    assert task.owner == hr2.user and task.status == STATUS.ASSIGNED
    _reexamine(org, by=hr2)
    appeal = Appeal.objects.get()
    assert appeal.status == AppealStatus.RULING and appeal.reexamined_by == hr2.user
    assert _told(org.committee, "An appeal waits for the committee's ruling")


def test_with_a_single_hr_officer_an_appeal_on_their_item_waits_in_the_hr_queue(
    org: Org, rule: Any, committee2: Member
) -> None:
    """A member's appeal is never refused for want of an HR officer: it waits."""
    summary = _hr_item_published(org, rule, committee2)
    item = summary.items.get(member=org.hr)
    response = _appeal(org.worker_b, item)
    assert response.status_code == 302 and "管理员" in _messages(response)[0]
    appeal = Appeal.objects.get()
    assert appeal.appellant == org.worker_b and appeal.status == AppealStatus.REEXAMINATION
    task = _reexamine_task()
    assert task.owner is None and task.status == STATUS.NEW
    assert _told(org.admin, "No HR officer may re-examine an appeal")
    _may_not_touch(org.hr, task)


def test_a_task_assigned_to_its_appellant_before_the_rule_goes_back_to_the_queue(
    org: Org, rule: Any, committee2: Member
) -> None:
    """An open re-examination assigned to the appellant (as every HR appeal was before):
    they may not act on it, but may give it back; another HR officer then takes it."""
    summary = _published(org, rule, committee2)
    assert _appeal(org.hr, summary.items.get(member=org.worker_a1)).status_code == 302
    task = _reexamine_task()
    task.owner, task.status = org.hr.user, STATUS.ASSIGNED
    task.save(update_fields=["owner", "status"])
    client = _client(org.hr)
    assert client.get(_url(APPEALS, task)).status_code == 403
    assert client.post(_url(APPEALS, task), {"findings": "本人核查"}).status_code == 403
    assert client.post(_url(APPEALS, task, "unassign")).status_code == 302
    task.refresh_from_db()
    assert task.owner is None and task.status == STATUS.NEW
    hr2 = _hr2(org)
    assert _client(hr2).post(_url(APPEALS, task, "assign")).status_code == 302
    _reexamine(org, by=hr2)
    assert Appeal.objects.get().reexamined_by == hr2.user


# --- reminders ----------------------------------------------------------------------------


def test_an_overdue_reexamination_reminds_its_hr_officer_not_the_appellant(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _published(org, rule, committee2)
    hr2 = _hr2(org)
    assert _appeal(org.hr, summary.items.get(member=org.worker_a1)).status_code == 302
    later = timezone.now() + timedelta(days=4)
    assert appeal_deadlines_run(now=later) == {"hr": 1, "committee": 0}
    assert _told(hr2, "An appeal is overdue")
    assert not _told(org.hr, "An appeal is overdue")


def test_an_overdue_reexamination_nobody_may_do_reminds_the_administrators(
    org: Org, rule: Any, committee2: Member
) -> None:
    summary = _published(org, rule, committee2)
    assert _appeal(org.hr, summary.items.get(member=org.worker_a1)).status_code == 302
    later = timezone.now() + timedelta(days=4)
    assert appeal_deadlines_run(now=later) == {"hr": 1, "committee": 0}
    assert _told(org.admin, "An appeal is overdue")
    assert not _told(org.hr, "An appeal is overdue")


# --- the committee ------------------------------------------------------------------------


def test_the_committee_member_an_appeal_concerns_is_neither_asked_nor_reminded(
    org: Org, rule: Any, committee2: Member
) -> None:
    """committee2 appeals: the ruling is asked of, and overdue rulings reminded to, the
    rest of the committee; committee2's ruling is refused (a 403, as before)."""
    summary = _published(org, rule, committee2)
    assert _appeal(committee2, summary.items.get(member=org.worker_a1)).status_code == 302
    _reexamine(org)
    assert _told(org.committee, "An appeal waits for the committee's ruling")
    assert not _told(committee2, "An appeal waits for the committee's ruling")
    much_later = timezone.now() + timedelta(days=6)
    assert appeal_deadlines_run(now=much_later) == {"hr": 0, "committee": 1}
    assert _told(org.committee, "An appeal is overdue")
    assert not _told(committee2, "An appeal is overdue")
    task = _task(AppealFlow, AppealFlow.rule)
    client = _client(committee2)
    client.post(_url(APPEALS, task, "assign"))  # the queue's claim is viewflow's permission
    data = {"ruling": "cancel", "reason": "自己裁定"}
    assert client.post(_url(APPEALS, task), data).status_code in DENIED
    assert Appeal.objects.get().status == AppealStatus.RULING


def test_a_ruling_no_committee_member_may_give_is_reported_to_the_administrators(
    org: Org, rule: Any, committee2: Member
) -> None:
    """Both committee members are parties (one appeals the other's item): nobody of the
    committee is asked; the administrators are told to appoint another member."""
    _approved(org, rule, committee2, org.ceo, 30)
    summary = _open_summary(org)
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    assert _appeal(org.committee, summary.items.get(member=committee2)).status_code == 302
    _reexamine(org)
    assert not _told(org.committee, "An appeal waits for the committee's ruling")
    assert not _told(committee2, "An appeal waits for the committee's ruling")
    assert _told(org.admin, "No committee member may rule on an appeal")


# --- the re-examination's own permission ----------------------------------------------------


def test_hr_holds_the_re_examination_permission_on_its_own_organisation_only(
    org: Org, other_org: Org
) -> None:
    """The HR queue of appeals asks for ``points.reexamine_appeal`` (it borrowed the shop's
    ``handle_redemption``): granted with the HR role, per organisation, and to nobody else."""
    assert HR_QUEUE_PERMISSION == "points.reexamine_appeal"
    assert org.hr.user.has_perm(HR_QUEUE_PERMISSION, org.organisation)
    assert not org.hr.user.has_perm(HR_QUEUE_PERMISSION, other_org.organisation)
    for member in (org.worker_a1, org.leader_a, org.committee):
        assert not member.user.has_perm(HR_QUEUE_PERMISSION, org.organisation), member


def test_the_migration_moves_a_waiting_re_examination_to_its_own_permission(
    org: Org, rule: Any, committee2: Member
) -> None:
    """Before the migrations: a re-examination waiting in HR's queue asked for
    ``handle_redemption``, and the HR officers held only that. After them, the task asks for
    the appeal's permission, the same officers hold it, and one of them takes the task."""
    summary = _published(org, rule, committee2)
    assert _appeal(org.hr, summary.items.get(member=org.worker_a1)).status_code == 302
    task = _reexamine_task()
    assert task.owner is None and task.status == STATUS.NEW
    hr2 = _hr2(org)
    remove_perm(HR_QUEUE_PERMISSION, hr2.user, org.organisation)
    type(task).objects.filter(pk=task.pk).update(owner_permission="points.handle_redemption")
    assert not _user(hr2).has_perm(HR_QUEUE_PERMISSION, org.organisation)

    points_0008 = import_module("points.migrations.0008_reexamine_appeal_permission")
    flows_0008 = import_module("flows.migrations.0008_appeal_reexamine_queue")
    points_0008.grant_to_hr(django_apps, None)
    with connection.cursor() as cursor:
        flows_0008.to_the_appeal_permission(django_apps, SimpleNamespace(execute=cursor.execute))

    task.refresh_from_db()
    assert task.owner_permission == HR_QUEUE_PERMISSION
    assert _user(hr2).has_perm(HR_QUEUE_PERMISSION, org.organisation)
    client = _client(hr2)
    assert f"/reexamine/{task.pk}/" in client.get(f"{APPEALS}queue/").content.decode()
    assert client.post(_url(APPEALS, task, "assign")).status_code == 302
    task.refresh_from_db()
    assert task.owner == hr2.user and task.status == STATUS.ASSIGNED


def _user(member: Member) -> Any:
    """The member's login read afresh (no permission cache)."""
    return type(member.user).objects.get(pk=member.user_id)


def test_the_migration_lets_an_old_re_examination_assigned_to_its_appellant_go_back(
    org: Org, rule: Any, committee2: Member
) -> None:
    """Before the HR queue existed, a re-examination was assigned to the summary's HR
    officer with no queue permission: assigned to its own appellant, it could be neither
    done nor given back. After the migration it asks for the appeal's permission on the
    appeal's organisation; the appellant gives it back and another HR officer takes it."""
    summary = _published(org, rule, committee2)
    assert _appeal(org.hr, summary.items.get(member=org.worker_a1)).status_code == 302
    task = _reexamine_task()
    type(task).objects.filter(pk=task.pk).update(
        owner=org.hr.user,
        status=STATUS.ASSIGNED,
        owner_permission=None,
        owner_permission_content_type=None,
        owner_permission_obj_pk=None,
    )
    client = _client(org.hr)
    assert _denied(client.post(_url(APPEALS, task, "unassign")))  # stuck with him

    flows_0008 = import_module("flows.migrations.0008_appeal_reexamine_queue")
    with connection.cursor() as cursor:
        flows_0008.to_the_appeal_permission(django_apps, SimpleNamespace(execute=cursor.execute))

    task.refresh_from_db()
    assert task.owner_permission == HR_QUEUE_PERMISSION
    assert task.owner_permission_obj == org.organisation
    assert client.post(_url(APPEALS, task, "unassign")).status_code == 302
    hr2 = _hr2(org)
    assert _client(hr2).post(_url(APPEALS, task, "assign")).status_code == 302
    _reexamine(org, by=hr2)
    assert Appeal.objects.get().reexamined_by == hr2.user
