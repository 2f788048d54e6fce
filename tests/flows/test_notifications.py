"""Notifications on assignment, decision, return and escalation: an e-mail per event after
commit, or one daily digest, as each user chooses."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail

from flows.models import Notification, NotificationPreference
from flows.tasks import notification_digests
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client, _decide, _declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def emails(org: Org) -> None:
    for member in (org.worker_a1, org.leader_a1, org.leader_a):
        member.user.email = f"{member.user.username}@example.com"
        member.user.save()


@pytest.mark.usefixtures("emails")
def test_each_event_is_mailed_after_commit(
    org: Org, django_capture_on_commit_callbacks: Any
) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10
    )
    with django_capture_on_commit_callbacks(execute=True):
        _declare(org.worker_a1, rule)
    assert [m.to for m in mail.outbox] == [["acme-leader-a1@example.com"]]
    with django_capture_on_commit_callbacks(execute=True):
        _decide(org.leader_a1, "return", reason="请补充现场照片")
    assert mail.outbox[-1].to == ["acme-worker-a1@example.com"]
    assert "请补充现场照片" in mail.outbox[-1].body
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0


@pytest.mark.usefixtures("emails")
def test_a_digest_user_gets_one_mail_a_day(
    org: Org, django_capture_on_commit_callbacks: Any
) -> None:
    response = _client(org.leader_a1).post("/notifications/", {"frequency": "digest"})
    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=org.leader_a1.user).frequency == "digest"
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10
    )
    with django_capture_on_commit_callbacks(execute=True):
        _declare(org.worker_a1, rule)
        _declare(org.worker_a1, rule)
    assert mail.outbox == []
    assert notification_digests.delay().get() == 1
    assert len(mail.outbox) == 1 and "2" in mail.outbox[0].subject
    assert notification_digests.delay().get() == 0  # nothing twice


def test_the_settings_page_needs_a_login(client: Any) -> None:
    assert client.get("/notifications/").status_code == 302


def test_the_settings_page_says_where_mail_goes_and_about_what(org: Org) -> None:
    user = org.leader_a1.user
    user.email = "<b>wang</b>@example.com"
    user.save()
    html = _client(org.leader_a1).get("/notifications/").content.decode()
    assert "邮件将发送至 &lt;b&gt;wang&lt;/b&gt;@example.com。" in html
    assert "待审核的申报" in html and "积分兑换" in html
    user.email = ""
    user.save()
    html = _client(org.leader_a1).get("/notifications/").content.decode()
    assert "没有邮箱地址" in html


def test_a_decision_on_a_declaration_entered_for_a_member_reaches_the_member_too(
    org: Org, django_capture_on_commit_callbacks: Any
) -> None:
    """The recorder who entered it hears of the decision, and so does the member, whose
    points they are (they were told of nothing before)."""
    from tests.factories import idea_rule
    from tests.flows.test_declaration_flow import _decide, _declare

    org.recorder.name = "赵记录员"
    org.recorder.save()
    for member in (org.recorder, org.worker_a1):
        member.user.email = f"{member.user.username}@example.com"
        member.user.save()
    assert (
        _declare(
            org.recorder, idea_rule(org.organisation), 20, for_member=org.worker_a1
        ).status_code
        == 302
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert _decide(org.leader_a1, "return", "请补充照片").status_code == 302
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("acme-recorder@example.com", "您的申报已退回修改"),
        ("acme-worker-a1@example.com", "赵记录员 为您录入的申报已退回修改"),
    ]
    assert all("请补充照片" in m.body for m in mail.outbox)
