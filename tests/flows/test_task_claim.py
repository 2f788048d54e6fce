"""The claim page (viewflow's task_assign.html, on our task_base.html) and what it says
after a claim. viewflow's page made "领取" (claim and go back) the filled button and
"领取并继续" (claim and handle the task, the usual act) plain text; its message after a
claim named the task by its number: "任务 已领取。 #161"."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django.urls import path
from viewflow.workflow.flow.utils import wrap_task_view
from viewflow.workflow.status import STATUS

from flows.flows import RedemptionFlow
from flows.inbox import ClaimTaskView, PutBackTaskView
from flows.models import Redemption
from project.urls import urlpatterns as project_urlpatterns
from tests.conftest import Org
from tests.flows.test_redemption import _client, _requested, _reward, _task, _task_url

pytestmark = pytest.mark.django_db
QUEUE = "/shop/redemption/queue/"
CLAIMED = "已领取：批准兑换 · acme-worker-a1 · 保温杯 · 200 可兑换积分"


@pytest.fixture
def redemption(org: Org) -> Redemption:
    """worker_a1's request for a cup: its approval waits in HR's queue, unclaimed."""
    return _requested(org, org.worker_a1, _reward(org))


def _buttons(html: str) -> list[tuple[str, str]]:
    """The claim form's buttons: (class and name attributes, label)."""
    actions = html[html.index("pts-task-actions") :]
    form = actions[: actions.index("</form>")]
    return [
        (attrs, re.sub(r"\s+", " ", re.sub("<[^>]+>", "", label)).strip())
        for attrs, label in re.findall(r"<button ([^>]*)>(.*?)</button>", form, re.S)
    ]


def _snackbar(html: str) -> str:
    found = re.search(r"<vf-snackbar[^>]*>(.*?)</vf-snackbar>", html, re.S)
    assert found
    return found.group(1).strip()


def test_claim_and_handle_is_the_primary_button(org: Org, redemption: Redemption) -> None:
    task = _task(RedemptionFlow.approve, redemption)
    html = _client(org.hr).get(_task_url(task, "assign")).content.decode()
    (primary, primary_label), (other, other_label) = _buttons(html)
    assert (primary_label, other_label) == ("领取并办理", "仅领取")
    assert "mdc-button--raised" in primary and 'name="_continue"' in primary
    assert "mdc-button--raised" not in other and "_continue" not in other
    assert "mdc-button--outlined" in other
    assert "领取并继续" not in html
    # the breadcrumbs: the flow, the record's number, the step, and the claim
    crumbs = re.search(r'<h2 class="vf-card__breadcrumbs">(.*?)</h2>', html, re.S)
    assert crumbs
    assert re.findall(r"<a[^>]*>([^<]*)</a>", crumbs.group(1)) == [
        "积分兑换",
        f"#{redemption.pk}",
        "批准兑换",
        "领取",
    ]


def test_the_claim_page_in_english(org: Org, redemption: Redemption) -> None:
    client = _client(org.hr)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(_task_url(_task(RedemptionFlow.approve, redemption), "assign")).content
    labels = [label for _, label in _buttons(html.decode())]
    assert labels == ["Claim and handle now", "Claim only"]


def test_claim_and_handle_goes_to_the_task(org: Org, redemption: Redemption) -> None:
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(org.hr)
    response = client.post(_task_url(task, "assign"), {"_continue": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == _task_url(task)
    task.refresh_from_db()
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, org.hr.user.pk)


def test_claim_only_goes_back_to_the_queue(org: Org, redemption: Redemption) -> None:
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(org.hr)
    assert client.get(QUEUE).status_code == 200  # the list the claim was made from
    response = client.post(_task_url(task, "assign"))
    assert response.status_code == 302 and response["Location"] == QUEUE
    task.refresh_from_db()
    assert (task.status, task.owner_id) == (STATUS.ASSIGNED, org.hr.user.pk)


def test_the_claim_page_refuses_those_who_may_not_claim(org: Org, redemption: Redemption) -> None:
    task = _task(RedemptionFlow.approve, redemption)
    client = _client(org.worker_a1)
    client.raise_request_exception = False
    assert client.post(_task_url(task, "assign"), {"_continue": "1"}).status_code in (403, 404)
    task.refresh_from_db()
    assert task.owner_id is None


# --- what the message says -------------------------------------------------------------------

# The approval's claim and put-back pages as viewflow builds a node's (``wrap_task_view``)
# with our views, ahead of the project's URLs: the nodes take them once ``LockedView``
# names them (see ``test_the_claim_message_says_what_was_claimed``).
_APPROVE = "shop/redemption/<int:process_pk>/approve/<int:task_pk>"
urlpatterns = [
    path(
        f"{_APPROVE}/assign/",
        wrap_task_view(
            RedemptionFlow.approve,
            ClaimTaskView.as_view(),
            permission=RedemptionFlow.approve.can_assign,
        ),
    ),
    path(
        f"{_APPROVE}/unassign/",
        wrap_task_view(
            RedemptionFlow.approve,
            PutBackTaskView.as_view(),
            permission=RedemptionFlow.approve.can_unassign,
        ),
    ),
    *project_urlpatterns,
]


def _claim(client: Client, redemption: Redemption) -> str:
    task = _task(RedemptionFlow.approve, redemption)
    response = client.post(_task_url(task, "assign"), {"_continue": "1"}, follow=True)
    assert response.status_code == 200
    return _snackbar(response.content.decode())


@pytest.mark.urls(__name__)
def test_our_claim_view_says_what_was_claimed(org: Org, redemption: Redemption) -> None:
    client = _client(org.hr)
    assert _claim(client, redemption) == CLAIMED
    task = _task(RedemptionFlow.approve, redemption)
    assert task.owner_id == org.hr.user.pk

    response = client.post(_task_url(task, "unassign"), follow=True)
    assert _snackbar(response.content.decode()) == CLAIMED.replace("已领取", "已放回")
    task.refresh_from_db()
    assert task.owner_id is None


@pytest.mark.urls(__name__)
def test_our_claim_message_escapes_names_and_speaks_english(
    org: Org, redemption: Redemption
) -> None:
    org.worker_a1.name = "<b>王五</b>"
    org.worker_a1.save()
    client = _client(org.hr)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert _claim(client, redemption) == (
        "Claimed: Approve the redemption · &lt;b&gt;王五&lt;/b&gt; · 保温杯 · 200 redeemable points"
    )


def test_the_claim_message_says_what_was_claimed(org: Org, redemption: Redemption) -> None:
    """Through the project's own URLs."""
    html_message = _claim(_client(org.hr), redemption)
    assert html_message == CLAIMED


# --- a claimed task's owner who may no longer see its record ---------------------------------


def test_an_owner_who_lost_the_role_finds_the_task_not_found(
    org: Org, redemption: Redemption
) -> None:
    """HR claimed the approval, then lost the HR role: viewflow asked only "is it theirs?"
    and kept showing them the record; the task page is now "not found" (as for anyone who
    may not see it), the refusal is audited, and nothing is decided."""
    from points.models import AuditEvent
    from points.roles import Role
    from points.services.org import role_revoke

    task = _task(RedemptionFlow.approve, redemption)
    client = _client(org.hr)
    assert client.post(_task_url(task, "assign")).status_code == 302
    assert client.get(_task_url(task)).status_code == 200  # theirs, and they see it
    role_revoke(user=org.hr.user, role=Role.HR)
    refused = AuditEvent.objects.filter(action="permission.denied", actor=org.hr.user)
    for response in (
        client.get(_task_url(task)),
        client.post(_task_url(task), {"decision": "approve"}),
        client.get(_task_url(task).removesuffix("execute/")),
        client.get(_task_url(task, "detail")),
        client.get(f"/shop/redemption/{task.process_id}/"),
    ):
        assert response.status_code == 404
    assert refused.count() == 5
    assert refused.first().data["reason"] == "已答复“未找到”：此用户无权查看"
    task.refresh_from_db()
    redemption.refresh_from_db()
    assert task.status == STATUS.ASSIGNED and task.owner_id == org.hr.user.pk
    assert redemption.status == "requested"
