"""The admin: each organisation sees and edits only its own rows; members stay out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Org


def _policy_form(policy: Any, **changes: Any) -> dict[str, Any]:
    data = {
        field.name: getattr(policy, field.attname)
        for field in policy._meta.concrete_fields
        if field.name != "id"
    }
    data["grade_distribution"] = json.dumps(data["grade_distribution"])
    data["grade_bands"] = json.dumps(data["grade_bands"])
    data.update(changes)
    return {k: ("on" if v is True else v) for k, v in data.items() if v is not False}


pytestmark = pytest.mark.django_db


def test_hr_lists_only_own_organisation_members(org: Org, other_org: Org, login: Any) -> None:
    html = login(org.hr).get("/admin/points/member/").content.decode()
    assert org.worker_b.employee_no in html
    assert other_org.worker_b.employee_no not in html


def test_hr_cannot_open_another_organisations_member(org: Org, other_org: Org, login: Any) -> None:
    response = login(org.hr).get(f"/admin/points/member/{other_org.worker_b.pk}/change/")
    assert response.status_code == 302  # admin redirects a missing object to the index
    assert response["Location"] == "/admin/"


def test_admin_choices_are_limited_to_own_organisation(
    org: Org, other_org: Org, login: Any
) -> None:
    html = login(org.admin).get("/admin/points/member/add/").content.decode()
    assert org.dept_a.name in html
    assert other_org.dept_a.name not in html


def test_admin_cannot_post_a_member_into_another_organisation(
    org: Org, other_org: Org, login: Any
) -> None:
    response = login(org.admin).post(
        "/admin/points/member/add/",
        {
            "organisation": other_org.organisation.pk,
            "kind": "person",
            "employee_no": "SNEAK",
            "name": "潜入",
            "unit": other_org.dept_a.pk,
            "status": "active",
        },
    )
    assert response.status_code == 200  # the form is shown again with errors
    assert not other_org.organisation.members.filter(employee_no="SNEAK").exists()


@pytest.mark.parametrize("whose", ["superuser", "other organisation"])
def test_a_member_cannot_take_a_superusers_or_another_organisations_login(
    org: Org, other_org: Org, login: Any, whose: str
) -> None:
    from django.contrib.auth import get_user_model

    if whose == "superuser":
        user = get_user_model().objects.create_superuser("root", password="x")
        message = "超级用户的登录账号不能属于成员"
    else:
        user = other_org.worker_b.user
        message = "该登录账号已属于其他组织"
    response = login(org.admin).post(
        "/admin/points/member/add/",
        {
            "organisation": org.organisation.pk,
            "kind": "person",
            "employee_no": "NEW-1",
            "name": "新人",
            "unit": org.dept_a.pk,
            "status": "active",
            "user": user.pk,
        },
    )
    assert response.status_code == 200 and message in response.content.decode()
    assert not org.organisation.members.filter(employee_no="NEW-1").exists()


def test_org_admin_edits_own_policy(org: Org, login: Any) -> None:
    policy = org.organisation.policy
    client = login(org.admin)
    response = client.post(
        f"/admin/points/policy/{policy.pk}/change/",
        _policy_form(
            policy,
            base_points=600,
            publicity_window_days=5,
            committee_quorum="all",
            summary_period="week",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert (policy.base_points, policy.publicity_window_days, policy.committee_quorum) == (
        600,
        5,
        "all",
    )


def test_policy_rejects_escalation_before_reminder(org: Org, login: Any) -> None:
    policy = org.organisation.policy
    response = login(org.admin).post(
        f"/admin/points/policy/{policy.pk}/change/",
        _policy_form(policy, review_reminder_days=6, review_escalation_days=2),
    )
    assert response.status_code == 200
    assert "升级不能早于提醒" in response.content.decode()
    policy.refresh_from_db()
    assert policy.review_reminder_days == 2


@pytest.mark.parametrize("who", ["worker_a1", "leader_a1", "committee", "recorder"])
def test_non_staff_roles_cannot_open_the_admin(org: Org, login: Any, who: str) -> None:
    response = login(getattr(org, who)).get("/admin/points/member/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_hr_cannot_change_the_rule_catalog(org: Org, login: Any) -> None:
    assert login(org.hr).get("/admin/points/ruleitem/add/").status_code == 403


def test_new_organisation_gets_default_policy(other_org: Org) -> None:
    policy = other_org.organisation.policy
    assert policy.base_points == 500
    assert policy.publicity_window_days == 7
    assert policy.summary_period == "month"
    assert policy.year_end_reset is False


@pytest.mark.parametrize(
    "changelist",
    [
        "points/authoritytier",
        "points/orgunit",
        "points/member",
        "points/ruleitem",
        "points/reward",
        "points/prizetable",
        "points/prizeaward",
    ],
)
def test_the_filter_sidebar_names_only_the_own_organisation(
    org: Org, other_org: Org, login: Any, changelist: str
) -> None:
    """Django builds a foreign key's filter choices from every row; ours from the rows the
    (scoped) list shows. (The ledger, accounts and fixed-point rules are kept by nobody but
    a superuser in the admin.)"""
    from points.models import PrizeTable

    for owner in (org, other_org):
        PrizeTable.objects.create(
            organisation=owner.organisation, name=f"{owner.organisation.code}-奖励表"
        )
    other_org.organisation.name = "别家公司"
    other_org.organisation.save()
    pages = [login(who).get(f"/admin/{changelist}/") for who in (org.admin, org.hr)]
    shown = [page.content.decode() for page in pages if page.status_code == 200]
    assert shown, "the organisation's admin or HR keeps these rows"
    for html in shown:
        assert "别家公司" not in html and "other-奖励表" not in html
