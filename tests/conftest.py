from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from points.models import Member, Organisation, OrgUnit
from points.roles import Role
from points.services.org import role_grant
from tests.factories import TEST_PASSWORD, MemberFactory, OrganisationFactory, OrgUnitFactory


@pytest.fixture(autouse=True)
def _media_root(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _a_fixed_today(request: Any) -> Any:
    """Tests run on 2026-11-20 (Asia/Shanghai), whatever the real date: postings, base
    points and periods are then deterministic. Browser tests keep the real clock."""
    if request.node.get_closest_marker("e2e"):
        yield
        return
    import time_machine

    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture(autouse=True)
def _english_off(settings: Any) -> None:
    """Tests see the default UI language (zh-hans) unless they switch."""
    settings.LANGUAGE_CODE = "zh-hans"


class Org:
    """A small organisation: company → two departments (A, B) → team under A."""

    def __init__(self, code: str) -> None:
        self.organisation: Organisation = OrganisationFactory(code=code, name=f"{code}厂")
        self.company: OrgUnit = OrgUnitFactory(organisation=self.organisation, code=f"{code}-co")
        self.dept_a: OrgUnit = OrgUnitFactory(
            organisation=self.organisation, code=f"{code}-a", parent=self.company
        )
        self.dept_b: OrgUnit = OrgUnitFactory(
            organisation=self.organisation, code=f"{code}-b", parent=self.company
        )
        self.team_a1: OrgUnit = OrgUnitFactory(
            organisation=self.organisation, code=f"{code}-a1", parent=self.dept_a
        )
        self.ceo = self.member(self.company, f"{code}-ceo")
        self.leader_a = self.member(self.dept_a, f"{code}-leader-a")
        self.leader_b = self.member(self.dept_b, f"{code}-leader-b")
        self.leader_a1 = self.member(self.team_a1, f"{code}-leader-a1")
        for unit, leader in (
            (self.company, self.ceo),
            (self.dept_a, self.leader_a),
            (self.dept_b, self.leader_b),
            (self.team_a1, self.leader_a1),
        ):
            unit.leader = leader
            unit.save()
        self.worker_a1 = self.member(self.team_a1, f"{code}-worker-a1")
        self.worker_b = self.member(self.dept_b, f"{code}-worker-b")
        self.hr = self.member(self.company, f"{code}-hr", role=Role.HR)
        self.committee = self.member(self.company, f"{code}-committee", role=Role.COMMITTEE)
        self.admin = self.member(self.company, f"{code}-admin", role=Role.ADMIN)
        self.recorder = self.member(self.dept_a, f"{code}-recorder", role=Role.RECORDER)

    def member(self, unit: OrgUnit, username: str, role: str | None = None) -> Member:
        member = MemberFactory(
            organisation=self.organisation, unit=unit, user__username=username, name=username
        )
        if role:
            role_grant(user=member.user, role=role)
        return member


@pytest.fixture
def org(db: Any) -> Org:
    return Org("acme")


@pytest.fixture
def other_org(db: Any) -> Org:
    return Org("other")


@pytest.fixture
def committee2(org: Org) -> Member:
    """A second committee member of ``org`` (sign-off needs a quorum of two)."""
    return org.member(org.company, "acme-committee2", role=Role.COMMITTEE)


def queries_of(client: Client, url: str, params: dict[str, Any] | None = None) -> int:
    """The queries one GET of ``url`` takes (it must answer 200): query budgets compare it
    for few rows and many."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


@pytest.fixture
def idea(org: Org) -> Any:
    """A fixed-points award rule of ``org`` for any unit, with no evidence needed."""
    from tests.factories import RuleItemFactory

    return RuleItemFactory(
        organisation=org.organisation, name="合理化建议", kind="award", points_min=10,
        points_max=10,
    )  # fmt: skip


@pytest.fixture
def login(client: Client):  # type: ignore[no-untyped-def]
    """``login(member)`` logs the test client in as that member's user."""

    def _login(member: Member) -> Client:
        assert client.login(username=member.user.username, password=TEST_PASSWORD)
        return client

    return _login


@pytest.fixture
def post(org: Org):  # type: ignore[no-untyped-def]
    """``post(member, amount, key=..., **fields)`` posts one item to the org's ledger."""
    from datetime import date

    from points.services.ledger import PostingItem, ledger_post

    counter = iter(range(1, 10**6))

    def _post(member: Member, amount: int | None, **fields: Any):  # type: ignore[no-untyped-def]
        fields.setdefault("idempotency_key", f"test:{next(counter)}")
        fields.setdefault("effective_date", date(2026, 11, 10))
        today = fields.pop("today", date(2026, 11, 20))
        item = PostingItem(member_id=member.pk, amount=amount, **fields)
        return ledger_post(organisation=member.organisation, item=item, today=today)

    return _post
