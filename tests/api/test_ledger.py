"""The ledger through the API: entries, statements, rankings and the caller's account, with
the web's visibility rules (own; HR the organisation; rankings for HR and the committee)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from points.models import EntryKind, OrgUnit
from points.services.ledger import ledger_reverse
from tests.api.conftest import V1, codes, fields
from tests.conftest import Org
from tests.factories import MemberFactory, RuleItemFactory

LEDGER = f"{V1}ledger/"
#: Every member gets base points on joining (500, booked 2026-11-20): most checks look at
#: the daily entries the tests post.
DAILY = {"kind": "daily"}
STATEMENTS = f"{V1}statements/"
RANKINGS = f"{V1}rankings/"


def ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def bad(response: Any) -> list[tuple[str, str | None]]:
    assert response.status_code == 400, response.content
    return list(zip(codes(response), fields(response), strict=True))


@pytest.fixture
def entries(org: Org, other_org: Org, post: Any) -> dict[str, Any]:
    """One entry each of worker_a1 (two), worker_b, leader_a and a member of another
    organisation."""
    return {
        "a1": post(org.worker_a1, 10),
        "a1_old": post(org.worker_a1, -3, effective_date=date(2026, 10, 5)),
        "b": post(org.worker_b, 7),
        "leader_a": post(org.leader_a, 4),
        "other": post(other_org.worker_a1, 9),
    }


# --- entries: who sees what ---------------------------------------------------------------


def test_a_member_sees_only_their_own_entries(org: Org, entries: Any, api: Any) -> None:
    client = api(org.worker_a1)
    assert ids(client.get(LEDGER, DAILY)) == {entries["a1"].pk, entries["a1_old"].pk}
    everything = client.get(LEDGER).json()["results"]
    assert {row["member"] for row in everything} == {org.worker_a1.pk}
    assert sorted(row["kind"] for row in everything) == ["base", "daily", "daily"]
    assert client.get(f"{LEDGER}{entries['a1'].pk}/").status_code == 200
    for key in ("b", "leader_a", "other"):
        response = client.get(f"{LEDGER}{entries[key].pk}/")
        assert response.status_code == 404 and codes(response) == ["not_found"]
    # Naming another member filters within what one may see: nothing.
    assert ids(client.get(LEDGER, {"member": org.worker_b.pk})) == set()


def test_a_leader_does_not_see_another_departments_entries(
    org: Org, entries: Any, api: Any
) -> None:
    client = api(org.leader_b)
    assert ids(client.get(LEDGER, DAILY)) == set()
    assert ids(client.get(LEDGER, {"member": org.worker_a1.pk})) == set()
    assert client.get(f"{LEDGER}{entries['a1'].pk}/").status_code == 404
    # As the web ledger export: only HR sees other members' entries, leaders their own.
    assert ids(api(org.leader_a).get(LEDGER, DAILY)) == {entries["leader_a"].pk}
    assert ids(api(org.committee).get(LEDGER, DAILY)) == set()


def test_hr_sees_the_organisation_never_another(org: Org, entries: Any, api: Any) -> None:
    client = api(org.hr)
    mine = {entries[key].pk for key in ("a1", "a1_old", "b", "leader_a")}
    assert ids(client.get(LEDGER, DAILY)) == mine
    assert client.get(LEDGER).json()["count"] == len(mine) + 10  # and everyone's base points
    assert client.get(f"{LEDGER}{entries['other'].pk}/").status_code == 404


def test_other_organisations_hr_sees_none_of_ours(
    org: Org, other_org: Org, entries: Any, api: Any
) -> None:
    assert ids(api(other_org.hr).get(LEDGER, DAILY)) == {entries["other"].pk}


def test_anonymous_and_memberless_logins_are_refused(org: Org, api: Any) -> None:
    assert codes(api().get(LEDGER)) == ["not_authenticated"]
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.create_user("nobody", password="x-pass-123")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    for url in (LEDGER, STATEMENTS, RANKINGS, f"{V1}accounts/me/"):
        response = client.get(url)
        assert response.status_code == 403 and codes(response) == ["permission_denied"], url


# --- entries: fields and filters ----------------------------------------------------------


def test_an_entry_shows_member_rule_approver_source_and_reversal(
    org: Org, post: Any, api: Any
) -> None:
    rule = RuleItemFactory(organisation=org.organisation, code="SVC-001", name="顾客表扬")
    entry = post(
        org.worker_a1,
        5,
        rule_item_id=rule.pk,
        approved_by_id=org.leader_a1.user.pk,
        source=org.team_a1,
        note="well done",
    )
    reversal = ledger_reverse(entry=entry, reason="mistake", actor=org.hr.user)[0]
    rows = {row["id"]: row for row in api(org.hr).get(LEDGER).json()["results"]}
    row = rows[entry.pk]
    assert row["member"] == org.worker_a1.pk
    assert row["member_name"] == org.worker_a1.name
    assert row["employee_no"] == org.worker_a1.employee_no
    assert (row["unit"], row["unit_name"]) == (org.team_a1.pk, org.team_a1.name)
    assert (row["amount"], row["kind"]) == (5, EntryKind.DAILY)
    assert (row["rule_item"], row["rule_code"], row["rule_name"]) == (
        rule.pk,
        "SVC-001",
        "顾客表扬",
    )
    assert (row["effective_date"], row["booked_on"], row["period"]) == (
        "2026-11-10",
        "2026-11-10",
        "2026-11",
    )
    assert (row["source_type"], row["source_id"]) == ("points.orgunit", org.team_a1.pk)
    assert (row["approved_by"], row["approved_by_name"]) == (
        org.leader_a1.user.pk,
        org.leader_a1.name,
    )
    assert row["reverses"] is None and row["note"] == "well done"
    reversed_row = rows[reversal.pk]
    assert (reversed_row["kind"], reversed_row["reverses"]) == (EntryKind.REVERSAL, entry.pk)
    assert reversed_row["approved_by_name"] == org.hr.name
    assert reversed_row["rule_code"] == "SVC-001"
    plain = post(org.worker_b, 1)
    row = api(org.hr).get(f"{LEDGER}{plain.pk}/").json()
    assert row["rule_item"] is None and row["rule_code"] is None and row["rule_name"] is None
    assert row["source_type"] is None and row["source_id"] is None
    assert row["approved_by"] is None and row["approved_by_name"] == ""


def test_filters(org: Org, entries: Any, post: Any, api: Any) -> None:
    rule = RuleItemFactory(organisation=org.organisation)
    ruled = post(org.worker_b, 2, rule_item_id=rule.pk, effective_date=date(2026, 11, 12))
    client = api(org.hr)
    assert ids(client.get(LEDGER, {"member": org.worker_a1.pk, **DAILY})) == {
        entries["a1"].pk,
        entries["a1_old"].pk,
    }
    assert len(ids(client.get(LEDGER, {"member": org.worker_a1.pk}))) == 3
    assert ids(client.get(LEDGER, {"employee_no": org.worker_b.employee_no, **DAILY})) == {
        entries["b"].pk,
        ruled.pk,
    }
    assert ids(client.get(LEDGER, {"unit": org.dept_a.pk, **DAILY})) == {
        entries["a1"].pk,
        entries["a1_old"].pk,
        entries["leader_a"].pk,
    }
    assert ids(client.get(LEDGER, {"rule": rule.pk})) == {ruled.pk}
    assert ids(client.get(LEDGER, {"kind": EntryKind.REVERSAL})) == set()
    assert ids(client.get(LEDGER, {"kind": EntryKind.DAILY, "member": org.worker_a1.pk})) == {
        entries["a1"].pk,
        entries["a1_old"].pk,
    }
    assert ids(client.get(LEDGER, {"kind": "base", "member": org.worker_b.pk})) == {
        org.worker_b.ledger_entries.get(kind=EntryKind.BASE).pk
    }
    period = {"date_from": "2026-11-11", "date_to": "2026-11-30", **DAILY}
    assert ids(client.get(LEDGER, period)) == {ruled.pk}
    assert ids(client.get(LEDGER, {"date_to": "2026-10-31"})) == {entries["a1_old"].pk}
    # A period holding ``on`` (this month by default).
    assert entries["a1_old"].pk not in ids(client.get(LEDGER, {"period": "month", **DAILY}))
    assert ids(client.get(LEDGER, {"period": "month", "on": "2026-10-20"})) == {
        entries["a1_old"].pk
    }
    assert ids(client.get(LEDGER, {"period": "week", "on": "2026-11-12", **DAILY})) == {
        entries["a1"].pk,
        entries["b"].pk,
        entries["leader_a"].pk,
        ruled.pk,
    }
    assert len(ids(client.get(LEDGER, {"period": "year", **DAILY}))) == 5
    assert len(ids(client.get(LEDGER, {"period": "year", "on": "2025-06-01"}))) == 0


def test_bad_filters_answer_400_with_code_and_field(
    org: Org, other_org: Org, entries: Any, api: Any
) -> None:
    client = api(org.hr)
    assert bad(client.get(LEDGER, {"kind": "bonus"})) == [("invalid_choice", "kind")]
    assert bad(client.get(LEDGER, {"member": other_org.worker_a1.pk})) == [
        ("invalid_choice", "member")
    ]
    assert bad(client.get(LEDGER, {"unit": other_org.dept_a.pk})) == [("invalid_choice", "unit")]
    assert bad(client.get(LEDGER, {"date_from": "yesterday"})) == [("invalid", "date_from")]
    assert bad(client.get(LEDGER, {"date_from": "2026-11-20", "date_to": "2026-11-01"})) == [
        ("date_order", "date_to")
    ]
    assert bad(client.get(LEDGER, {"period": "decade"})) == [("invalid_choice", "period")]
    assert bad(client.get(LEDGER, {"period": "year", "on": "9999-12-31"})) == [
        ("out_of_range", "on")
    ]
    assert client.get(LEDGER, {"page": 99}).status_code == 404


def test_entries_are_paged(org: Org, entries: Any, api: Any) -> None:
    client = api(org.hr)
    body = client.get(LEDGER, {"page_size": 2, **DAILY}).json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    # Newest first (booking date, then id).
    assert body["results"][0]["id"] == entries["leader_a"].pk
    rows = client.get(LEDGER, {"page_size": 200}).json()["results"]
    keys = [(row["booked_on"], row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True) and len(rows) == 14


def _queries(client: Any, url: str, params: dict[str, Any] | None = None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


def test_the_entries_list_takes_a_flat_number_of_queries(org: Org, post: Any, api: Any) -> None:
    rule = RuleItemFactory(organisation=org.organisation)
    client = api(org.hr)

    def post_some(count: int) -> None:
        for member in (org.worker_a1, org.worker_b, org.leader_a):
            for _ in range(count):
                post(member, 1, rule_item_id=rule.pk, approved_by_id=org.leader_a.user.pk)

    post_some(1)
    few = _queries(client, LEDGER)
    post_some(5)
    assert _queries(client, LEDGER) == few
    # The statement lists entries too, with the same fields.
    few_statement = _queries(client, STATEMENTS, {"member": org.worker_b.pk})
    post_some(3)
    assert _queries(client, STATEMENTS, {"member": org.worker_b.pk}) == few_statement


# --- statements ---------------------------------------------------------------------------


def test_my_statement_by_default(org: Org, entries: Any, api: Any) -> None:
    response = api(org.worker_a1).get(STATEMENTS)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["member"]["id"] == org.worker_a1.pk
    assert body["member"]["unit_name"] == org.team_a1.name
    assert (body["period"], body["period_start"], body["period_end"]) == (
        "month",
        "2026-11-01",
        "2026-11-30",
    )
    # 500 base points (booked 2026-11-20, this week), +10 on 2026-11-10, -3 in October.
    assert body["period_total"] == 510
    assert body["totals"] == {"week": 500, "month": 510, "quarter": 507, "year": 507}
    assert (body["lifetime_total"], body["redeemable"]) == (507, 507)
    # worker_a1 (510) is first in the organisation and in team A1; nobody is vetoed.
    assert (body["rank_in_organisation"], body["rank_in_unit"], body["vetoed"]) == (1, 1, False)
    base = org.worker_a1.ledger_entries.get(kind=EntryKind.BASE).pk
    assert [row["id"] for row in body["entries"]] == [entries["a1"].pk, base]  # oldest first
    assert body["entries"][0]["member"] == org.worker_a1.pk
    october = api(org.worker_a1).get(STATEMENTS, {"on": "2026-10-31"}).json()
    assert october["period_total"] == -3
    assert [row["id"] for row in october["entries"]] == [entries["a1_old"].pk]
    year = api(org.worker_a1).get(STATEMENTS, {"period": "year"}).json()
    assert [row["id"] for row in year["entries"]] == [entries["a1_old"].pk, entries["a1"].pk, base]
    assert year["period_start"] == "2026-01-01"
    assert api(org.worker_a1).get(STATEMENTS, {"on": "2025-06-01"}).json()["entries"] == []


def test_hr_reads_any_statement_of_the_organisation(
    org: Org, other_org: Org, entries: Any, api: Any
) -> None:
    response = api(org.hr).get(STATEMENTS, {"member": org.worker_b.pk, "period": "quarter"})
    assert response.status_code == 200
    assert response.json()["member"]["id"] == org.worker_b.pk
    assert response.json()["period_total"] == 507
    # This quarter worker_b ties with worker_a1 (507 each): both first.
    assert response.json()["rank_in_organisation"] == 1
    month = api(org.hr).get(STATEMENTS, {"member": org.worker_b.pk}).json()
    assert (month["period_total"], month["rank_in_organisation"]) == (507, 2)
    assert response.json()["rank_in_unit"] == 1
    outsider = api(org.hr).get(STATEMENTS, {"member": other_org.worker_a1.pk})
    assert outsider.status_code == 404 and codes(outsider) == ["not_found"]


@pytest.mark.parametrize("viewer", ["worker_a1", "leader_b", "leader_a", "committee"])
def test_other_statements_are_not_found(org: Org, entries: Any, api: Any, viewer: str) -> None:
    """As the web statement report: only HR reads other members' statements; everyone else
    gets 404, so that whether a member exists does not show."""
    target = org.worker_b if viewer == "worker_a1" else org.worker_a1
    response = api(getattr(org, viewer)).get(STATEMENTS, {"member": target.pk})
    assert response.status_code == 404 and codes(response) == ["not_found"]
    assert api(getattr(org, viewer)).get(STATEMENTS, {"member": 10**12}).status_code == 404
    # Naming oneself is fine.
    own = getattr(org, viewer)
    assert api(own).get(STATEMENTS, {"member": own.pk}).status_code == 200


def test_bad_statement_parameters(org: Org, api: Any) -> None:
    client = api(org.worker_a1)
    assert bad(client.get(STATEMENTS, {"period": "all"})) == [("invalid_choice", "period")]
    assert bad(client.get(STATEMENTS, {"on": "2026-13-01"})) == [("invalid", "on")]
    assert bad(client.get(STATEMENTS, {"member": "me"})) == [("invalid", "member")]
    assert bad(client.get(STATEMENTS, {"member": 0})) == [("min_value", "member")]
    assert bad(client.get(STATEMENTS, {"member": 2**63})) == [("max_value", "member")]
    assert bad(client.get(STATEMENTS, {"period": "year", "on": "9999-06-01"})) == [
        ("out_of_range", "on")
    ]
    assert client.get(STATEMENTS, {"period": "week", "on": "0001-01-01"}).status_code == 200


def test_statement_messages_are_translated(org: Org, api: Any) -> None:
    response = api(org.worker_a1, lang="zh-hans").get(STATEMENTS, {"period": "decade"})
    assert response.status_code == 400
    assert "decade" in response.json()["errors"][0]["message"]


# --- rankings -----------------------------------------------------------------------------


@pytest.fixture
def tied(org: Org, other_org: Org, post: Any) -> None:
    """Over everyone's 500 base points: worker_a1 and worker_b tie on 510, leader_a has
    505, leader_b 503, and the six others 500; another organisation's member has 550."""
    post(org.worker_a1, 10)
    post(org.worker_b, 10)
    post(org.leader_a, 5)
    post(org.leader_b, 3)
    post(other_org.worker_a1, 50)


def ranked(response: Any) -> list[tuple[int, int]]:
    assert response.status_code == 200, response.content
    return [(row["rank"], row["member"]) for row in response.json()["rows"]]


def test_ties_share_a_rank(org: Org, tied: None, api: Any) -> None:
    response = api(org.hr).get(RANKINGS)
    assert ranked(response)[:4] == [
        (1, org.worker_a1.pk),
        (1, org.worker_b.pk),
        (3, org.leader_a.pk),
        (4, org.leader_b.pk),
    ]
    rest = {org.ceo, org.leader_a1, org.hr, org.committee, org.admin, org.recorder}
    assert ranked(response)[4:] == sorted((5, member.pk) for member in rest)
    body = response.json()
    assert (body["period"], body["period_start"], body["period_end"]) == (
        "month",
        "2026-11-01",
        "2026-11-30",
    )
    assert body["scope"] is None and body["group"] is None
    assert body["scope_name"] == org.organisation.name
    first = body["rows"][0]
    assert (first["name"], first["employee_no"], first["unit_name"], first["total"]) == (
        org.worker_a1.name,
        org.worker_a1.employee_no,
        org.team_a1.name,
        510,
    )
    assert all(isinstance(row["grade"], str) for row in body["rows"])
    # The grades are the web report's: forced distribution or the policy's bands.
    from points.selectors.ledger import grades_forced_distribution, ranking_for_period

    expected = grades_forced_distribution(
        ranking_for_period(organisation=org.organisation, kind="month", start=date(2026, 11, 1)),
        org.organisation.policy,
    )
    assert {row["member"]: row["grade"] for row in body["rows"]} == {
        member: expected.get(member, "") for member in {row["member"] for row in body["rows"]}
    }


def test_top_keeps_everyone_tied_with_the_last_place(org: Org, tied: None, api: Any) -> None:
    client = api(org.committee)
    assert ranked(client.get(RANKINGS, {"top": 1})) == [
        (1, org.worker_a1.pk),
        (1, org.worker_b.pk),
    ]
    assert [rank for rank, _member in ranked(client.get(RANKINGS, {"top": 3}))] == [1, 1, 3]
    assert [rank for rank, _member in ranked(client.get(RANKINGS, {"top": 4}))] == [1, 1, 3, 4]
    # Place 5 is a tie of six: all of them are in.
    assert len(ranked(client.get(RANKINGS, {"top": 5}))) == 10
    assert len(ranked(client.get(RANKINGS, {"top": 100}))) == 10


def test_ranking_scope_group_and_period(org: Org, tied: None, post: Any, api: Any) -> None:
    client = api(org.hr)
    in_b = client.get(RANKINGS, {"scope": org.dept_b.pk})
    assert ranked(in_b) == [(1, org.worker_b.pk), (2, org.leader_b.pk)]
    assert in_b.json()["scope"] == org.dept_b.pk
    assert in_b.json()["scope_name"] == org.dept_b.name
    assert ranked(client.get(RANKINGS, {"group": "leaders"})) == [
        (1, org.leader_a.pk),
        (2, org.leader_b.pk),
        (3, org.ceo.pk),
        (3, org.leader_a1.pk),
    ]
    members = ranked(client.get(RANKINGS, {"group": "members", "top": 1}))
    assert members == [(1, org.worker_a1.pk), (1, org.worker_b.pk)]
    assert client.get(RANKINGS, {"group": "leaders"}).json()["group"] == "leaders"
    assert ranked(client.get(RANKINGS, {"on": "2026-10-01"})) == []
    post(org.leader_b, 20, effective_date=date(2026, 10, 2))
    october = client.get(RANKINGS, {"on": "2026-10-01"})
    assert ranked(october) == [(1, org.leader_b.pk)]
    everything = client.get(RANKINGS, {"period": "all"})
    assert ranked(everything)[0] == (1, org.leader_b.pk)  # 523 over 510
    assert everything.json()["period_start"] is None and everything.json()["period_end"] is None
    week = client.get(RANKINGS, {"period": "week", "on": "2026-10-01"})
    assert ranked(week) == [(1, org.leader_b.pk)]
    assert week.json()["period_start"] == "2026-09-28"


def test_only_hr_and_the_committee_see_rankings(org: Org, tied: None, api: Any) -> None:
    for member in (org.worker_a1, org.leader_a, org.ceo, org.recorder):
        response = api(member).get(RANKINGS)
        assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert api(org.committee).get(RANKINGS).status_code == 200


def test_other_organisations_never_show_in_rankings(
    org: Org, other_org: Org, tied: None, api: Any
) -> None:
    assert other_org.worker_a1.pk not in {m for _r, m in ranked(api(org.hr).get(RANKINGS))}
    assert ranked(api(other_org.hr).get(RANKINGS, {"top": 1})) == [(1, other_org.worker_a1.pk)]
    # A unit of another organisation is no scope of ours.
    response = api(org.hr).get(RANKINGS, {"scope": other_org.dept_a.pk})
    assert bad(response) == [("does_not_exist", "scope")]


def test_bad_ranking_parameters(org: Org, api: Any) -> None:
    client = api(org.hr)
    assert bad(client.get(RANKINGS, {"period": "decade"})) == [("invalid_choice", "period")]
    assert bad(client.get(RANKINGS, {"group": "bosses"})) == [("invalid_choice", "group")]
    assert bad(client.get(RANKINGS, {"top": 0})) == [("min_value", "top")]
    assert bad(client.get(RANKINGS, {"top": "ten"})) == [("invalid", "top")]
    assert bad(client.get(RANKINGS, {"scope": "x"})) == [("incorrect_type", "scope")]
    assert bad(client.get(RANKINGS, {"scope": 10**20})) == [("does_not_exist", "scope")]
    assert bad(client.get(RANKINGS, {"on": "20.11.2026"})) == [("invalid", "on")]
    assert bad(client.get(RANKINGS, {"period": "year", "on": "9999-12-31"})) == [
        ("out_of_range", "on")
    ]
    assert client.get(RANKINGS, {"period": "all", "on": "9999-12-31"}).status_code == 200
    several = bad(client.get(RANKINGS, {"period": "x", "top": -1}))
    assert sorted(several) == [("invalid_choice", "period"), ("min_value", "top")]


def test_rankings_take_a_flat_number_of_queries(org: Org, post: Any, api: Any) -> None:
    client = api(org.hr)
    post(org.worker_a1, 3)
    few = _queries(client, RANKINGS)
    for number in range(8):
        post(MemberFactory(organisation=org.organisation, unit=org.dept_b), number)
    assert _queries(client, RANKINGS) == few
    assert len(client.get(RANKINGS).json()["rows"]) == 18


# --- my account ---------------------------------------------------------------------------


def test_my_account(org: Org, entries: Any, api: Any) -> None:
    response = api(org.worker_a1).get(f"{V1}accounts/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["member"] == org.worker_a1.pk and body["on"] == "2026-11-20"
    assert (body["lifetime_total"], body["redeemable"]) == (507, 507)
    assert body["totals"] == {"week": 500, "month": 510, "quarter": 507, "year": 507}
    assert body["rank_in_organisation"] == 1 and body["rank_in_unit"] == 1
    assert body["frozen"] is False and body["vetoed"] is False
    ceo = api(org.ceo).get(f"{V1}accounts/me/").json()
    assert (ceo["member"], ceo["lifetime_total"], ceo["redeemable"]) == (org.ceo.pk, 500, 500)
    assert ceo["totals"] == {"week": 500, "month": 500, "quarter": 500, "year": 500}
    # Behind worker_a1 (510), worker_b (507) and leader_a (504).
    assert ceo["rank_in_organisation"] == 4


def test_unit_whole_organisation_ranks_as_the_organisation(org: Org, api: Any) -> None:
    """A member of the top unit: their unit rank is the organisation's (``member_statement``)."""
    top: OrgUnit = org.company
    assert top.parent_id is None
    body = api(org.ceo).get(STATEMENTS).json()
    assert body["rank_in_unit"] == body["rank_in_organisation"]
