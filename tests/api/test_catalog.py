"""Members, units, rules and tokens through the API."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from points.models import AuditEvent
from tests.api.conftest import V1, codes
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory


def test_anonymous_gets_401_json_with_a_code(org: Org, api: Any) -> None:
    response = api().get(f"{V1}members/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert codes(response) == ["not_authenticated"]


def test_a_token_for_a_password_and_it_works(org: Org, api: Any) -> None:
    client = api()
    response = client.post(
        f"{V1}tokens/", {"username": org.worker_a1.user.username, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=org.worker_a1.user).key == key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{V1}members/").status_code == 200


def test_a_wrong_password_gets_a_translated_error(org: Org, api: Any) -> None:
    response = api(lang="zh-hans").post(
        f"{V1}tokens/", {"username": org.worker_a1.user.username, "password": "wrong"}
    )
    assert response.status_code == 400
    assert codes(response) == ["authorization"]
    assert "无法" in response.json()["errors"][0]["message"]  # DRF's zh-hans message


def test_members_of_my_organisation_only(org: Org, other_org: Org, api: Any) -> None:
    response = api(org.worker_a1).get(f"{V1}members/", {"page_size": 200})
    names = {row["name"] for row in response.json()["results"]}
    assert org.worker_a1.name in names and org.hr.name in names
    assert other_org.worker_a1.name not in names
    outsider = api(org.worker_a1).get(f"{V1}members/{other_org.worker_a1.pk}/")
    assert outsider.status_code == 404 and codes(outsider) == ["not_found"]


def test_member_filters(org: Org, api: Any) -> None:
    client = api(org.hr)
    in_a = client.get(f"{V1}members/", {"unit": org.dept_a.pk}).json()["results"]
    assert {row["name"] for row in in_a} >= {org.worker_a1.name, org.leader_a.name}
    assert org.worker_b.name not in {row["name"] for row in in_a}
    found = client.get(f"{V1}members/", {"q": org.worker_b.employee_no}).json()["results"]
    assert [row["id"] for row in found] == [org.worker_b.pk]
    bad = client.get(f"{V1}members/", {"unit": 10**9})
    assert bad.status_code == 400 and codes(bad) == ["invalid_choice"]
    assert bad.json()["errors"][0]["field"] == "unit"


def test_units_and_rules(org: Org, other_org: Org, api: Any) -> None:
    rule = RuleItemFactory(organisation=org.organisation, code="SVC-001", name="顾客表扬")
    RuleItemFactory(organisation=other_org.organisation, code="SVC-001", name="别家")
    client = api(org.worker_a1)
    units = client.get(f"{V1}units/").json()["results"]
    assert units[0]["id"] == org.company.pk
    assert {u["id"] for u in units} == {
        org.company.pk,
        org.dept_a.pk,
        org.dept_b.pk,
        org.team_a1.pk,
    }
    rules = client.get(f"{V1}rules/").json()["results"]
    assert [r["id"] for r in rules] == [rule.pk]
    assert client.get(f"{V1}rules/", {"q": "表扬"}).json()["count"] == 1
    assert client.get(f"{V1}rules/", {"scope": "mine"}).json()["count"] == 1


def test_a_recorder_reads_the_rules_of_the_member_they_declare_for(
    org: Org, other_org: Org, api: Any
) -> None:
    team_only = RuleItemFactory(organisation=org.organisation, name="甲一班组专项")
    team_only.units.set([org.team_a1])
    client = api(org.recorder)  # of department A
    mine = client.get(f"{V1}rules/", {"scope": "mine"}).json()["results"]
    assert team_only.pk not in {r["id"] for r in mine}
    rules = client.get(f"{V1}rules/", {"member": org.worker_a1.pk}).json()["results"]
    assert [r["id"] for r in rules] == [team_only.pk]
    for outside in (org.worker_b, other_org.worker_a1):  # not theirs to declare for
        bad = client.get(f"{V1}rules/", {"member": outside.pk})
        assert bad.status_code == 400 and codes(bad) == ["invalid_choice"]
    # somebody who is no recorder declares only for themselves
    worker = api(org.worker_a1)
    assert worker.get(f"{V1}rules/", {"member": org.worker_a1.pk}).status_code == 200
    assert worker.get(f"{V1}rules/", {"member": org.leader_a1.pk}).status_code == 400


def test_pages(org: Org, api: Any) -> None:
    client = api(org.hr)
    first = client.get(f"{V1}members/", {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["count"] > 2 and first["next"]
    beyond = client.get(f"{V1}members/", {"page": 999})
    assert beyond.status_code == 404 and codes(beyond) == ["not_found"]


def test_revoking_tokens(org: Org, other_org: Org, api: Any) -> None:
    worker = api(org.worker_a1)
    assert worker.delete(f"{V1}tokens/").status_code == 204
    assert worker.get(f"{V1}members/").status_code == 401  # the token is gone

    victim = api(org.worker_b)
    # A member may not revoke another's token; HR of another organisation cannot see them.
    denied = api(org.worker_a1).delete(f"{V1}members/{org.worker_b.pk}/token/")
    assert denied.status_code == 403 and codes(denied) == ["permission_denied"]
    assert api(other_org.hr).delete(f"{V1}members/{org.worker_b.pk}/token/").status_code == 404
    assert victim.get(f"{V1}members/").status_code == 200

    assert api(org.hr).delete(f"{V1}members/{org.worker_b.pk}/token/").status_code == 204
    assert victim.get(f"{V1}members/").status_code == 401
    event = AuditEvent.objects.get(action="api.token_revoke")
    assert event.actor == org.hr.user and event.member == org.worker_b


def test_a_login_without_a_member_is_refused(db: Any, api: Any) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("loner", password=TEST_PASSWORD)
    client = api()
    client.force_authenticate(user)
    response = client.get(f"{V1}rules/")
    assert response.status_code == 403 and codes(response) == ["permission_denied"]


def test_schema_and_docs_are_served_locally(db: Any, client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert "/api/v1/members/" in document["paths"]
    assert "Error" in document["components"]["schemas"]
    assert "401" in document["paths"]["/api/v1/members/"]["get"]["responses"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/" in html


def test_an_unknown_api_path_is_a_json_404_and_pages_stay_html(org: Org, api: Any) -> None:
    response = api(org.worker_a1).get(f"{V1}rules/not-a-number.x/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert codes(response) == ["not_found"]
    page = api(org.worker_a1).get("/no-such-page/")
    assert page.status_code in (302, 404) and "json" not in page.get("Content-Type", "")


@pytest.mark.parametrize(
    ("path", "param", "target"),
    [
        ("members/", "unit", "dept_a"),
        ("units/", "parent", "dept_a"),
        ("redemptions/", "member", "worker_a1"),
        ("redemptions/", "reward", "reward"),
        ("summaries/", "scope", "dept_a"),
    ],
)
def test_a_filter_on_another_organisations_id_is_refused_as_a_missing_one(
    org: Org, other_org: Org, api: Any, path: str, param: str, target: str
) -> None:
    """The same 400 as for an id that exists nowhere: a filter does not tell which ids
    exist in other organisations."""
    from points.models import Reward

    def pk(owner: Org) -> int:
        if target == "reward":
            return Reward.objects.create(
                organisation=owner.organisation, name="保温杯", kind="gift", points_cost=200
            ).pk
        return int(getattr(owner, target).pk)

    mine, theirs = pk(org), pk(other_org)
    client = api(org.hr)
    assert client.get(f"{V1}{path}", {param: mine}).status_code == 200
    elsewhere = client.get(f"{V1}{path}", {param: theirs})
    nowhere = client.get(f"{V1}{path}", {param: 10**9})
    assert (elsewhere.status_code, codes(elsewhere)) == (400, codes(nowhere))
    assert nowhere.status_code == 400
