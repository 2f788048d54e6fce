"""The rule catalog: scope, constraints, and history that keeps the value of the time."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from points.models import RuleItem
from points.selectors.catalog import rule_item_as_of, rule_items_for_unit
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db


def _change_form(item: RuleItem, **changes: Any) -> dict[str, Any]:
    data = {
        "organisation": item.organisation_id,
        "code": item.code,
        "name": item.name,
        "category": item.category,
        "kind": item.kind,
        "points_min": item.points_min,
        "points_max": item.points_max,
        "cap_per_day": item.cap_per_day or "",
        "cap_per_month": item.cap_per_month or "",
        "leader_coaward_ratio": str(item.leader_coaward_ratio),
        "active": "on" if item.active else "",
        "description": item.description,
        "units": [u.pk for u in item.units.all()],
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_admin_change_is_kept_in_history_with_who_and_when(org: Org, login: Any) -> None:
    item = RuleItemFactory(organisation=org.organisation, code="ATD-001", name="迟到")
    before_change = timezone.now()
    client = login(org.admin)
    response = client.post(
        f"/admin/points/ruleitem/{item.pk}/change/",
        _change_form(item, points_min=10, points_max=10),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert item.points_min == 10
    latest = item.history.latest()
    assert latest.history_type == "~"
    assert latest.history_user == org.admin.user
    assert latest.points_min == 10
    assert latest.history_date >= before_change

    # An entry dated before the change still sees the value that applied then.
    assert rule_item_as_of(rule_item=item, when=before_change).points_min == 5
    assert rule_item_as_of(rule_item=item, when=timezone.now()).points_min == 10


def test_rule_did_not_exist_before_its_creation(org: Org) -> None:
    before = timezone.now()
    item = RuleItemFactory(organisation=org.organisation)
    with pytest.raises(RuleItem.DoesNotExist):
        rule_item_as_of(rule_item=item, when=before)


def test_history_page_shows_changes(org: Org, login: Any) -> None:
    item = RuleItemFactory(organisation=org.organisation, name="迟到")
    item.points_min = item.points_max = 8
    item._change_reason = "标准调整"  # type: ignore[attr-defined]
    item.save()
    response = login(org.hr).get(f"/admin/points/ruleitem/{item.pk}/history/")
    assert response.status_code == 200
    assert "标准调整" in response.content.decode()


def test_rules_for_a_unit_include_rules_of_units_above_and_unscoped_rules(org: Org) -> None:
    everyone = RuleItemFactory(organisation=org.organisation, code="ALL")
    dept_a_only = RuleItemFactory(organisation=org.organisation, code="A")
    dept_a_only.units.set([org.dept_a])
    dept_b_only = RuleItemFactory(organisation=org.organisation, code="B")
    dept_b_only.units.set([org.dept_b])
    inactive = RuleItemFactory(organisation=org.organisation, code="OFF", active=False)
    RuleItemFactory(code="ELSEWHERE")  # another organisation

    team_rules = set(rule_items_for_unit(unit=org.team_a1))
    assert team_rules == {everyone, dept_a_only}
    assert set(rule_items_for_unit(unit=org.dept_b)) == {everyone, dept_b_only}
    assert inactive in set(rule_items_for_unit(unit=org.dept_b, include_inactive=True))


def test_points_range_is_enforced_by_the_database(org: Org) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleItemFactory(organisation=org.organisation, points_min=10, points_max=5)


def test_points_range_is_validated_with_a_translated_message(org: Org) -> None:
    item = RuleItemFactory.build(organisation=org.organisation, points_min=10, points_max=5)
    with pytest.raises(ValidationError) as error:
        item.full_clean()
    assert "最大值不能小于最小值" in str(error.value)


def test_codes_are_unique_per_organisation_only(org: Org, other_org: Org) -> None:
    RuleItemFactory(organisation=org.organisation, code="X-1")
    RuleItemFactory(organisation=other_org.organisation, code="X-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleItemFactory(organisation=org.organisation, code="X-1")


def test_catalog_page_lists_own_organisation_only_and_escapes(
    org: Org, other_org: Org, login: Any
) -> None:
    RuleItemFactory(organisation=org.organisation, code="MINE", name="<script>alert(1)</script>")
    RuleItemFactory(organisation=other_org.organisation, code="THEIRS")
    response = login(org.worker_a1).get("/points/rule_catalog/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "MINE" in html and "THEIRS" not in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_catalog_filters_by_my_unit_and_category(org: Org, login: Any) -> None:
    mine = RuleItemFactory(organisation=org.organisation, code="A-ONLY", category="safety")
    mine.units.set([org.dept_a])
    theirs = RuleItemFactory(organisation=org.organisation, code="B-ONLY", category="safety")
    theirs.units.set([org.dept_b])
    RuleItemFactory(organisation=org.organisation, code="HON", category="honour")
    client = login(org.worker_a1)
    html = client.get("/points/rule_catalog/?scope=mine&category=safety").content.decode()
    assert "A-ONLY" in html and "B-ONLY" not in html and "HON" not in html


def test_catalog_page_query_count_does_not_grow(
    org: Org, login: Any, django_assert_max_num_queries: Any
) -> None:
    client = login(org.worker_a1)
    for n in range(40):
        RuleItemFactory(organisation=org.organisation, code=f"Q{n:02d}")
    with django_assert_max_num_queries(12):
        assert client.get("/points/rule_catalog/").status_code == 200
