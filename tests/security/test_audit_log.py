"""The audit log: denials are recorded, HR and the committee search their organisation's
log by member, actor, date and action, and nobody else reads it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from points.models import AuditEvent
from tests.conftest import Org

URL = "/points/audit/"


def _rows(response: Any) -> list[str]:
    import re

    return re.findall(r'id="audit-(\d+)"', response.content.decode())


def test_a_web_denial_writes_an_audit_row(org: Org, login: Any) -> None:
    client = login(org.worker_a1)
    response = client.get(URL)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.actor == org.worker_a1.user and event.member == org.worker_a1
    assert event.organisation == org.organisation
    assert event.data["path"] == URL and event.data["method"] == "GET"


def test_an_api_denial_writes_an_audit_row_with_the_reason(org: Org) -> None:
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=org.worker_a1.user)}")
    response = client.delete(f"/api/v1/members/{org.worker_b.pk}/token/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="permission.denied")
    assert event.actor == org.worker_a1.user
    assert "HR" in event.data["reason"] and event.data["method"] == "DELETE"


def test_hr_and_the_committee_search_their_organisation_only(
    org: Org, other_org: Org, login: Any
) -> None:
    mine = AuditEvent.objects.create(
        organisation=org.organisation,
        actor=org.leader_a1.user,
        member=org.worker_a1,
        action="declaration.approve",
        object_repr="#1",
    )
    AuditEvent.objects.create(
        organisation=other_org.organisation,
        actor=other_org.leader_a1.user,
        member=other_org.worker_a1,
        action="declaration.approve",
        object_repr="#2",
    )
    for reader in (org.hr, org.committee):
        client = login(reader)
        response = client.get(URL, {"action": "declaration."})
        assert response.status_code == 200
        assert _rows(response) == [str(mine.pk)]


def test_filters(org: Org, login: Any) -> None:
    def event(action: str, actor: Any, member: Any) -> AuditEvent:
        return AuditEvent.objects.create(
            organisation=org.organisation, actor=actor.user, member=member, action=action
        )

    approve = event("declaration.approve", org.leader_a1, org.worker_a1)
    reject = event("declaration.reject", org.leader_a, org.worker_b)
    posting = event("ledger.reverse", org.hr, org.worker_a1)
    client = login(org.hr)
    by_member = client.get(URL, {"member": org.worker_a1.name, "action": "declaration"})
    assert _rows(by_member) == [str(approve.pk)]
    assert _rows(client.get(URL, {"actor": org.leader_a.employee_no})) == [str(reject.pk)]
    assert _rows(client.get(URL, {"actor": org.hr.user.username, "action": "ledger.rev"})) == [
        str(posting.pk)
    ]
    assert _rows(client.get(URL, {"action": "ledger.reverse"})) == [str(posting.pk)]
    today = timezone.localdate()
    assert len(_rows(client.get(URL, {"since": today.isoformat(), "action": "declaration"}))) == 2
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert _rows(client.get(URL, {"since": tomorrow})) == []
    assert len(_rows(client.get(URL, {"until": today.isoformat(), "action": "decl"}))) == 2
    bad = client.get(URL, {"since": "not-a-date"})
    assert bad.status_code == 200 and _rows(bad) == []
    assert "pts-errors" in bad.content.decode()


def test_query_count_stays_flat(org: Org, login: Any) -> None:
    client = login(org.hr)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).status_code == 200
        return len(queries)

    AuditEvent.objects.create(organisation=org.organisation, actor=org.hr.user, action="x")
    few = count()
    for n in range(30):
        AuditEvent.objects.create(
            organisation=org.organisation,
            actor=org.leader_a1.user,
            member=org.worker_a1,
            action=f"x.{n}",
            data={"n": n},
        )
    assert count() == few


def test_user_text_is_escaped(org: Org, login: Any) -> None:
    AuditEvent.objects.create(
        organisation=org.organisation,
        actor=org.hr.user,
        action="x",
        object_repr="<script>alert(1)</script>",
        data={"reason": "<b>bold</b>"},
    )
    html = login(org.hr).get(URL).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html


def test_role_changes_are_audited_from_services_and_the_admin(org: Org, client: Any) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from points.roles import Role
    from points.services.org import role_grant, role_revoke

    user = org.worker_b.user
    joined = AuditEvent.objects.get(member=org.worker_b, action="role.grant")
    assert joined.data["roles"] == [Role.MEMBER]  # joining made them a member
    role_grant(user=user, role=Role.RECORDER)
    role_revoke(user=user, role=Role.RECORDER)
    rows = list(
        AuditEvent.objects.filter(
            member=org.worker_b, action__startswith="role.", pk__gt=joined.pk
        ).order_by("pk")
    )
    assert [(r.action, r.data["roles"]) for r in rows] == [
        ("role.grant", [Role.RECORDER]),
        ("role.revoke", [Role.RECORDER]),
    ]
    # Through the admin, with the administrator as the actor.
    root = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(root)
    committee = Group.objects.get(name=Role.COMMITTEE)
    response = client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "is_active": "on",
            "groups": [g.pk for g in user.groups.all()] + [committee.pk],
            "date_joined_0": "2026-11-01",
            "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-11-01",
            "initial-date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    granted = (
        AuditEvent.objects.filter(action="role.grant", member=org.worker_b).order_by("pk").last()
    )
    assert granted is not None and granted.data["roles"] == [Role.COMMITTEE]
    assert granted.actor == root


def test_catalog_changes_are_audited(org: Org, login: Any) -> None:
    from tests.factories import RuleItemFactory

    rule = RuleItemFactory(organisation=org.organisation, code="X-1", name="测试")
    rule.points_max = 80
    rule.save()
    actions = list(
        AuditEvent.objects.filter(action__startswith="catalog.", data__rule=rule.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["catalog.create", "catalog.change"]
    last = AuditEvent.objects.filter(action="catalog.change").order_by("pk").last()
    assert last is not None and last.data["points"][1] == 80
    # the log page says what happened in words, with the code beside it for searching
    html = login(org.hr).get("/points/audit/").content.decode()
    assert '<span title="catalog.change">修改奖扣分标准条目</span>' in html


def test_details_with_an_items_key_render(org: Org, login: Any) -> None:
    """A dict's ``.items`` in a template would read the "items" key (declaration.submit
    rows have one): the view hands the template the details, each in words."""
    AuditEvent.objects.create(
        organisation=org.organisation,
        actor=org.hr.user,
        action="declaration.submit",
        data={"declaration": 7, "items": 3},
    )
    response = login(org.hr).get(URL)
    html = response.content.decode()
    assert response.status_code == 200 and '<dt title="items">事项数</dt><dd>3</dd>' in html
