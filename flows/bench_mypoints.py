"""The "my points" figure of ``manage.py bench``: the page rendered server-side (the whole
middleware stack, through Django's test client) for a bench member with 5,000 entries, beside
a raw-SQL baseline that reads the same data (balance, period totals, ranks, twelve months,
the first history page and the short lists) without Django."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from points.bench import Context, Figure
from points.models import LedgerEntry, Member, OrgUnit, RuleItem
from points.periods import month_start, organisation_today, period_end, period_start
from points.services.ledger import PostingItem, ledger_post_batch

#: Entries of the bench member, as the issue asks.
ENTRIES = 5000
EMPLOYEE_NO = "BM-MYPOINTS"
URL = "/points/me/"


def _median_ms(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _bench_member(context: Context) -> Member:
    """A member with a login in the first team and ``ENTRIES`` entries over the bench's
    months (created once; posted through the ledger's batch service)."""
    organisation = context.organisation
    member = (
        Member.objects.select_related("user", "unit", "organisation")
        .filter(organisation=organisation, employee_no=EMPLOYEE_NO)
        .first()
    )
    if member is None:
        users = get_user_model()
        password = make_password(None)
        user = users.objects.create(username="bench-my-points", password=password)
        approver = users.objects.create(
            username="bench-my-points-approver", first_name="基准审核人", password=password
        )
        # A worker's unit: a team (a unit without sub-units), as the generated members'.
        unit = OrgUnit.objects.filter(
            organisation=organisation, parent__isnull=False, children__isnull=True
        ).order_by("path")[0]
        member = Member.objects.create(
            organisation=organisation, unit=unit, user=user, employee_no=EMPLOYEE_NO, name="基准"
        )
        member = Member.objects.select_related("user", "unit", "organisation").get(pk=member.pk)
        member.approver_id = approver.pk  # type: ignore[attr-defined]
    rule, _created = RuleItem.objects.get_or_create(
        organisation=organisation,
        code="BENCH-MY",
        defaults={
            "name": "基准日常奖分",
            "category": "performance",
            "kind": "award",
            "points_min": 5,
            "points_max": 5,
        },
    )
    have = LedgerEntry.objects.filter(member=member).count()
    if have >= ENTRIES:
        return member
    approver_id = (
        getattr(member, "approver_id", None)
        or (
            get_user_model()
            .objects.filter(username="bench-my-points-approver")
            .values_list("pk", flat=True)[0]
        )
    )
    first = context.first_month
    days = (period_end("month", context.last_month) - first).days + 1
    items = [
        PostingItem(
            member_id=member.pk,
            idempotency_key=f"bench-my:{n}",
            effective_date=first + timedelta(days=(n * 7919) % days),
            amount=5 if n % 4 else -3,
            rule_item_id=rule.pk if n % 4 else None,
            approved_by_id=approver_id,
            note="" if n % 4 else "基准扣分",
        )
        for n in range(ENTRIES)
    ]
    for start in range(0, len(items), 1000):
        chunk = items[start : start + 1000]
        ledger_post_batch(
            organisation=organisation, items=chunk, today=period_end("month", context.last_month)
        )
    context.log(f"my points: {ENTRIES} entries posted for the bench member")
    return member


def _raw_my_points(member: Member, day: Any) -> None:
    """The same data, read with plain SQL: account, kept totals and the week's sum, the
    ranks, twelve months, the first history page with its count, and the short lists."""
    month = month_start(day)
    first = month_start(month - timedelta(days=335))
    week = period_start("week", day)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lifetime_total, redeemable FROM points_account WHERE member_id = %s",
            [member.pk],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT period_kind, period_start, total FROM points_periodtotal WHERE "
            "member_id = %s AND ((period_kind = 'month' AND period_start >= %s) OR "
            "(period_kind = 'quarter' AND period_start = %s) OR "
            "(period_kind = 'year' AND period_start = %s))",
            [member.pk, first, period_start("quarter", day), period_start("year", day)],
        )
        totals = cursor.fetchall()
        mine = next((t for k, s, t in totals if k == "month" and s == month), 0)
        cursor.execute(
            "SELECT SUM(amount) FROM points_ledgerentry WHERE member_id = %s AND "
            "booked_on >= %s AND booked_on <= %s",
            [member.pk, week, week + timedelta(days=6)],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT COUNT(*) FROM points_periodtotal WHERE organisation_id = %s AND "
            "period_kind = 'month' AND period_start = %s AND total > %s",
            [member.organisation_id, month, mine],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT COUNT(*) FROM points_periodtotal t JOIN points_member m ON m.id = t.member_id "
            "WHERE m.unit_id = %s AND t.period_kind = 'month' AND t.period_start = %s "
            "AND t.total > %s",
            [member.unit_id, month, mine],
        )
        cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM points_ledgerentry WHERE member_id = %s", [member.pk])
        cursor.fetchall()
        cursor.execute(
            "SELECT e.id, e.amount, e.kind, e.booked_on, e.note, r.name, u.username "
            "FROM points_ledgerentry e LEFT JOIN points_ruleitem r ON r.id = e.rule_item_id "
            "LEFT JOIN auth_user u ON u.id = e.approved_by_id WHERE e.member_id = %s "
            "ORDER BY e.booked_on DESC, e.id DESC LIMIT 20",
            [member.pk],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT id, status, created_at FROM flows_declaration WHERE member_id = %s "
            "AND status IN ('submitted', 'returned', 'escalated') ORDER BY created_at DESC "
            "LIMIT 5",
            [member.pk],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT a.id, a.status FROM flows_appeal a JOIN flows_summaryitem i "
            "ON i.id = a.item_id WHERE a.appellant_id = %s OR i.member_id = %s "
            "ORDER BY a.created_at DESC LIMIT 5",
            [member.pk, member.pk],
        )
        cursor.fetchall()


def bench_my_points(context: Context) -> list[Figure]:
    member = _bench_member(context)
    assert member.user is not None
    client = Client()
    client.force_login(member.user)
    host = next((h for h in settings.ALLOWED_HOSTS if h and "*" not in h), "testserver")
    day = organisation_today(context.organisation)  # the page's "today"

    def render() -> None:
        response = client.get(URL, HTTP_HOST=host.lstrip("."), secure=True)
        assert response.status_code == 200, response.status_code

    # As in production (DEBUG off), with plain static file names: the bench does not
    # depend on a collectstatic manifest.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(DEBUG=False, STORAGES=storages):
        render()  # warm: templates, content types, the connection
        with CaptureQueriesContext(connection) as captured:
            render()
        ours = _median_ms(render, 15)
    baseline = _median_ms(lambda: _raw_my_points(member, day), 15)
    entries = LedgerEntry.objects.filter(member=member).count()
    context.log(f"my points: {entries} entries, {len(captured)} queries per page")
    return [
        Figure(
            f"my points page, member with {entries} entries (server-side render)",
            ours,
            baseline,
            "ms",
            "< 100 ms at 50,000 members (baseline: the same data by raw SQL)",
        )
    ]
