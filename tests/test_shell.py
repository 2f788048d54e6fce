"""The UI shell: login under our own name, redirects for anonymous users, language, home."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import Org
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

PAGES = ["/", "/points/", "/points/rule_catalog/", "/accounts/password_change/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_redirected_to_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_anonymous_admin_goes_to_login(client: Client) -> None:
    response = client.get("/admin/points/member/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/admin/points/member/"


def test_login_page_has_our_name_in_chinese(client: Client) -> None:
    html = client.get(reverse("login")).content.decode()
    assert "Viewflow Demo" not in html
    assert "积分制管理平台" in html
    assert 'name="viewport"' in html


def test_login_then_home_shows_the_roles(org: Org, client: Client) -> None:
    response = client.post(
        reverse("login"), {"username": org.hr.user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert 'id="role-hr"' in html and 'id="role-member"' in html
    assert 'id="role-committee"' not in html and 'id="role-admin"' not in html
    assert "人力资源" in html or "HR" in html


def test_wrong_password_shows_a_translated_error(org: Org, client: Client) -> None:
    response = client.post(reverse("login"), {"username": org.hr.user.username, "password": "x"})
    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()


@pytest.mark.parametrize(
    ("who", "present", "absent"),
    [
        ("worker_a1", ["role-member"], ["role-leader", "role-hr", "role-admin"]),
        ("leader_a1", ["role-member", "role-leader"], ["role-hr"]),
        ("committee", ["role-committee"], ["role-hr", "role-admin"]),
        ("recorder", ["role-recorder"], ["role-hr"]),
        ("admin", ["role-admin"], ["role-hr"]),
    ],
)
def test_home_shows_each_role_where_to_go(
    org: Org, login: Any, who: str, present: list[str], absent: list[str]
) -> None:
    html = login(getattr(org, who)).get("/").content.decode()
    for role in present:
        assert f'id="{role}"' in html
    for role in absent:
        assert f'id="{role}"' not in html


def test_home_names_the_direct_superior(org: Org, login: Any) -> None:
    html = login(org.worker_a1).get("/").content.decode()
    assert org.leader_a1.name in html


def test_language_switch_to_english_and_back(org: Org, login: Any) -> None:
    client = login(org.worker_a1)
    assert "规则目录" in client.get("/").content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert "Rule catalog" in html and "规则目录" not in html
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "规则目录" in client.get("/").content.decode()


def test_a_login_without_member_sees_a_clear_message(
    client: Client, django_user_model: Any
) -> None:
    django_user_model.objects.create_user("lonely", password=TEST_PASSWORD)
    client.login(username="lonely", password=TEST_PASSWORD)
    html = client.get("/").content.decode()
    assert "尚未关联" in html


def test_logout_ends_the_session(org: Org, login: Any) -> None:
    client = login(org.worker_a1)
    client.post(reverse("logout"))
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/notifications/", 200),
        ("/reports/statement/form/", 200),
        ("/reports/ledger/", 403),  # HR's: refused to a member, on a page of ours
    ],
)
def test_pages_outside_the_flows_have_the_theme_and_the_menu(
    org: Org, login: Any, url: str, status: int
) -> None:
    response = login(org.worker_a1).get(url)
    assert response.status_code == status
    html = response.content.decode()
    assert "--mdc-theme-primary: #b71c1c" in html  # our colours
    assert "Django Material" not in html and "积分制管理" in html  # our name in the title
    if status == 200:  # (a refusal is viewflow's lock screen, as everywhere in the app)
        assert 'class="vf-page__menu mdc-drawer' in html and 'href="/points/' in html


def test_home_lists_each_flow_with_tasks_and_links_to_its_inbox(org: Org, login: Any) -> None:
    """leader_a1 has a declaration to review; leader_a a notice above leader_a1's tier to
    sign: each is sent to the inbox that holds the task."""
    from tests.factories import AuthorityTierFactory, RuleItemFactory
    from tests.flows.test_award_notice import _issue
    from tests.flows.test_declaration_flow import _declare

    rule = RuleItemFactory(organisation=org.organisation, kind="deduction", points_min=5)
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    _declare(org.worker_a1, RuleItemFactory(organisation=org.organisation, points_min=5))
    _issue(org.leader_a1, [org.worker_a1], rule, quantity=10)
    reviewer = login(org.leader_a1).get("/").content.decode()
    tasks = reviewer.split('id="my-tasks"')[1].split("</section>")[0]
    assert 'href="/declarations/declaration/inbox/"' in tasks and "积分申报：待办 1 项" in tasks
    assert "待办（1 项）" in reviewer  # the leader's inbox button counts declarations
    signer = login(org.leader_a).get("/").content.decode()
    tasks = signer.split('id="my-tasks"')[1].split("</section>")[0]
    assert 'href="/declarations/awardnotice/inbox/"' in tasks and "奖扣分通知单：待办 1 项" in tasks
    assert "declaration/inbox" not in tasks and "待办（0 项）" in signer
    assert 'id="my-tasks"' not in login(org.worker_a1).get("/").content.decode()
