"""``seed_demo`` builds a believable factory and village, and is idempotent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from points.demo.seed import DEMO_LOGINS, DEMO_PASSWORD
from points.models import (
    AuthorityTier,
    FixedPointRule,
    LedgerEntry,
    Member,
    Organisation,
    OrgUnit,
    RuleItem,
)
from points.selectors.ledger import ledger_verify
from points.selectors.org import member_superior

pytestmark = pytest.mark.django_db


def _snapshot() -> dict[str, object]:
    return {
        "users": sorted(get_user_model().objects.values_list("username", "password", "is_staff")),
        "members": sorted(Member.objects.values_list("employee_no", "name", "unit__code", "user")),
        "units": sorted(OrgUnit.objects.values_list("code", "path", "leader_id")),
        "rules": sorted(RuleItem.objects.values_list("code", "points_min", "points_max")),
        "rule history": RuleItem.history.count(),
        "tiers": AuthorityTier.objects.count(),
        "fixed": sorted(FixedPointRule.objects.values_list("factor", "value", "points")),
        "ledger": LedgerEntry.objects.count(),
        "groups": sorted(
            get_user_model().groups.through.objects.values_list("user_id", "group_id")
        ),
    }


def test_seed_builds_the_factory_and_is_idempotent() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    factory = Organisation.objects.get(code="demo-factory")
    members = Member.objects.filter(organisation=factory)
    assert 190 <= members.count() <= 220
    assert len(set(members.values_list("name", flat=True))) > 150  # varied Chinese names
    departments = OrgUnit.objects.filter(organisation=factory, parent__isnull=False)
    assert departments.count() >= 6
    assert all(unit.leader_id for unit in OrgUnit.objects.filter(organisation=factory))
    assert RuleItem.objects.filter(organisation=factory).count() >= 40
    assert members.filter(user__groups__name="hr").count() == 2
    assert members.filter(user__groups__name="committee").count() == 3
    assert "hr1" in out.getvalue() and DEMO_PASSWORD in out.getvalue()
    # Everyone joined with the base points, and the fixed point table is there.
    assert LedgerEntry.objects.filter(kind="base", member__organisation=factory).count() == (
        members.count()
    )
    assert FixedPointRule.objects.filter(organisation=factory).count() >= 10
    assert ledger_verify() == []
    # every action the demo's flows audited reads in words on the audit log page
    from points.models.audit import ACTION_LABELS, AuditEvent

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert len(actions) >= 15 and actions <= set(ACTION_LABELS), actions - set(ACTION_LABELS)

    # Every worker has a superior, and the leader of a team is reviewed by the workshop head.
    leader = Member.objects.get(user__username="leader")
    assert member_superior(member=leader) == leader.unit.parent.leader
    assert member_superior(member=Member.objects.get(user__username="member")) == leader

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert _snapshot() == first
    assert "nothing changed" in out.getvalue()


def test_the_demo_has_a_village_and_every_login_opens_the_home_page_in_chinese() -> None:
    """One seeding for these (it takes most of a minute on PostgreSQL): the village, every
    login's home page, and the member's twelve months of charts."""
    call_command("seed_demo", stdout=StringIO())
    village = Organisation.objects.get(code="demo-village")
    households = Member.objects.filter(organisation=village, kind="household")
    assert households.count() >= 10
    assert all(h.user_id for h in households)
    assert Member.objects.filter(organisation=village, kind="unit").exists()
    assert RuleItem.objects.filter(organisation=village).count() >= 30
    assert village.policy.summary_period == "quarter"

    wrong = []
    for username, role, _description in DEMO_LOGINS:
        client = Client()
        if not client.login(username=username, password=DEMO_PASSWORD):
            wrong.append(f"{username}: login refused")
            continue
        html = client.get("/").content.decode()
        if not ('lang="zh-hans"' in html and "欢迎" in html and f'id="role-{role}"' in html):
            wrong.append(f"{username}: no Chinese home page with the {role} role")
    assert wrong == []

    from tests.flows.test_my_points import demo_has_twelve_months_for_the_charts

    demo_has_twelve_months_for_the_charts()
