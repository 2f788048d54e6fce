"""Reads of the ledger: rankings, grades, statements, vetoes and the totals check."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncMonth, TruncQuarter, TruncYear

from points.models import (
    Account,
    LedgerEntry,
    Member,
    Organisation,
    OrgUnit,
    PeriodKind,
    PeriodTotal,
    Policy,
    RankBucket,
    Veto,
)
from points.models.ledger import RANK_BUCKET_WIDTH, STORED_KINDS
from points.periods import TOTAL_KINDS, organisation_today, period_end, period_start

ALL_TIME = "all"


class RankGroup:
    LEADERS = "leaders"
    MEMBERS = "members"


@dataclass(frozen=True)
class RankRow:
    rank: int
    member_id: int
    name: str
    employee_no: str
    unit_name: str
    total: int


def _week_totals(organisation_id: int, begin: date) -> tuple[str, list[Any]]:
    """SQL for a week's totals (``member_id``, ``total``), summed from the entries: week
    totals are not kept (``STORED_KINDS``). The ``entry_org_booked`` index covers it. Like a
    kept total, a member counts once an entry of theirs moved their total."""
    return (
        "SELECT e.member_id, SUM(e.amount) AS total FROM points_ledgerentry e "
        "WHERE e.organisation_id = %s AND e.booked_on >= %s AND e.booked_on <= %s "
        "AND e.in_period_totals = %s AND e.amount <> 0 GROUP BY e.member_id",
        [organisation_id, begin, period_end(PeriodKind.WEEK, begin), True],
    )


def _ranking_source(
    *,
    organisation: Organisation,
    kind: str,
    start: date | None,
    unit: OrgUnit | None,
    group: str | None,
) -> tuple[tuple[str, list[Any]], str, str, tuple[str, list[Any]]]:
    """((WITH clause, its parameters), table, total column, (WHERE clause, its
    parameters)) of a ranking's rows."""
    params: list[Any]
    with_clause = ""
    with_params: list[Any] = []
    if kind == ALL_TIME:
        table, total, where, params = (
            "points_account",
            "lifetime_total",
            "t.organisation_id = %s",
            [organisation.pk],
        )
    elif kind in STORED_KINDS:
        if start is None:
            raise ValueError("a period needs its start date")
        table, total = "points_periodtotal", "total"
        where = "t.organisation_id = %s AND t.period_kind = %s AND t.period_start = %s"
        params = [organisation.pk, kind, period_start(kind, start)]
    else:
        if start is None:
            raise ValueError("a period needs its start date")
        week, with_params = _week_totals(organisation.pk, period_start(kind, start))
        with_clause = f"WITH week_totals AS MATERIALIZED ({week}) "
        table, total, where, params = "week_totals", "total", "1 = 1", []
    if unit is not None:
        where += (
            " AND t.member_id IN (SELECT m.id FROM points_member m JOIN points_orgunit u "
            "ON u.id = m.unit_id WHERE u.path LIKE %s)"
        )
        params.append(unit.path + "%")  # a path holds only digits and slashes
    if group is not None:
        negate = "" if group == RankGroup.LEADERS else "NOT "
        leads = "SELECT 1 FROM points_orgunit l WHERE l.leader_id = t.member_id"
        where += f" AND {negate}EXISTS ({leads})"
    return (with_clause, with_params), table, total, (where, params)


def ranking_for_period(
    *,
    organisation: Organisation,
    kind: str,
    start: date | None = None,
    unit: OrgUnit | None = None,
    group: str | None = None,
    top: int | None = None,
) -> list[RankRow]:
    """Members by total for a week, month, quarter, year (``start`` is any day in it) or all
    time, in an org subtree or the whole organisation, optionally only leaders or only
    members. Ties share a rank (1, 1, 3); with ``top``, everyone tied with the last place
    is included.

    Reads the maintained totals through the ranking index, never the ledger (a week, whose
    totals are not kept, sums its entries). It is the hottest read of the product
    (publicity pages, dashboards, the benchmark's 2 ms target), so it is two plain SQL
    statements rather than ORM querysets."""
    if top is not None and top < 1:
        raise ValueError("top must be at least 1")
    (with_clause, with_params), table, total, (where, params) = _ranking_source(
        organisation=organisation, kind=kind, start=start, unit=unit, group=group
    )
    sql = f"{with_clause}SELECT t.member_id, t.{total} FROM {table} t WHERE {where}"  # noqa: S608
    order = f" ORDER BY t.{total} DESC, t.member_id"
    if top is not None:
        cutoff = f"SELECT t.{total} FROM {table} t WHERE {where}{order} LIMIT 1 OFFSET %s"  # noqa: S608
        sql += f" AND t.{total} >= COALESCE(({cutoff}), %s)"
        params = [*params, *params, top - 1, -(2**31)]
    with connection.cursor() as cursor:
        cursor.execute(sql + order, [*with_params, *params])
        totals = cursor.fetchall()
        names: dict[int, tuple[str, str, str]] = {}
        if totals:
            ids = [member_id for member_id, _total in totals]
            if connection.vendor == "postgresql":
                # One array literal: a hundred placeholders took twice as long to send and plan.
                among, id_params = "= ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]
            else:
                among, id_params = f"IN ({', '.join(['%s'] * len(ids))})", ids
            cursor.execute(
                "SELECT m.id, m.name, m.employee_no, u.name FROM points_member m "  # noqa: S608
                f"JOIN points_orgunit u ON u.id = m.unit_id WHERE m.id {among}",
                id_params,
            )
            names = {row[0]: row[1:] for row in cursor.fetchall()}
    ranked: list[RankRow] = []
    previous_total = None
    for position, (member_id, member_total) in enumerate(totals, 1):
        rank = ranked[-1].rank if member_total == previous_total else position
        ranked.append(RankRow(rank, member_id, *names[member_id], int(member_total)))
        previous_total = member_total
    return ranked


def member_rank(
    *,
    member: Member,
    kind: str,
    start: date | None = None,
    unit: OrgUnit | None = None,
    total: int | None = None,
) -> tuple[int, int]:
    """(rank, total) of the member: 1 + the number of strictly higher totals in the
    organisation, or in ``unit``'s subtree. Pass ``total`` when it is already known."""
    higher: QuerySet[Any]
    if kind == ALL_TIME:
        if total is None:
            total = (
                Account.objects.filter(member=member)
                .values_list("lifetime_total", flat=True)
                .first()
                or 0
            )
        higher = Account.objects.filter(
            organisation_id=member.organisation_id, lifetime_total__gt=total
        )
        if unit is not None:
            higher = higher.filter(member__unit__path__startswith=unit.path)
        return higher.count() + 1, total
    assert start is not None
    begin = period_start(kind, start)
    if kind not in STORED_KINDS:
        return _week_rank(member, begin, unit, total)
    if total is None:
        total = (
            PeriodTotal.objects.filter(member=member, period_kind=kind, period_start=begin)
            .values_list("total", flat=True)
            .first()
            or 0
        )
    if unit is not None:
        return _unit_rank(unit, kind, begin, total), total
    # The rank buckets above the member's own, plus the higher totals inside it: the cost
    # does not grow with the rank.
    bucket = total // RANK_BUCKET_WIDTH
    above = (
        RankBucket.objects.filter(
            organisation_id=member.organisation_id,
            period_kind=kind,
            period_start=begin,
            bucket__gt=bucket,
        ).aggregate(n=Sum("members"))["n"]
        or 0
    )
    inside = PeriodTotal.objects.filter(
        organisation_id=member.organisation_id,
        period_kind=kind,
        period_start=begin,
        total__gt=total,
        total__lt=(bucket + 1) * RANK_BUCKET_WIDTH,
    ).count()
    return above + inside + 1, total


#: Members of a unit's subtree (organisation, path prefix), materialised so that a unit's
#: rank is driven from its members (a primary-key probe each) rather than from every
#: higher total in the organisation.
_UNIT_MEMBERS = (
    "unit_members AS MATERIALIZED (SELECT m.id FROM points_member m "
    "JOIN points_orgunit u ON u.id = m.unit_id WHERE u.organisation_id = %s "
    "AND u.path LIKE %s)"
)
_UNIT_HIGHER = (
    "SELECT COUNT(*) FROM unit_members um JOIN points_periodtotal t "
    "ON t.member_id = um.id AND t.period_kind = %s AND t.period_start = %s "
    "WHERE t.total > {total}"
)


def _unit_rank(unit: OrgUnit, kind: str, begin: date, total: int) -> int:
    """1 + the higher totals among the unit subtree's members."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {_UNIT_MEMBERS} {_UNIT_HIGHER.format(total='%s')}",
            [unit.organisation_id, unit.path + "%", kind, begin, total],
        )
        return int(cursor.fetchone()[0]) + 1


def _member_week_total(member_id: int, begin: date) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT SUM(amount) FROM points_ledgerentry WHERE member_id = %s "
            "AND booked_on >= %s AND booked_on <= %s AND in_period_totals = %s",
            [member_id, begin, period_end(PeriodKind.WEEK, begin), True],
        )
        return int(cursor.fetchone()[0] or 0)


def _week_rank(
    member: Member, begin: date, unit: OrgUnit | None, total: int | None
) -> tuple[int, int]:
    """(rank, total) in a week, from the entries (week totals are not kept)."""
    if total is None:
        total = _member_week_total(member.pk, begin)
    week, params = _week_totals(member.organisation_id, begin)
    where = "w.total > %s"
    params.append(total)
    if unit is not None:
        where += (
            " AND w.member_id IN (SELECT m.id FROM points_member m JOIN points_orgunit u "
            "ON u.id = m.unit_id WHERE u.path LIKE %s)"
        )
        params.append(unit.path + "%")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({week}) w WHERE {where}", params)  # noqa: S608
        return int(cursor.fetchone()[0]) + 1, total


# --- grades -----------------------------------------------------------------------------


def grades_by_bands(rows: list[RankRow], bands: list[list[Any]]) -> dict[int, str]:
    """Grade by total: the first band whose minimum the total reaches (None catches all),
    e.g. the party-member scheme [[80, "优秀"], [60, "合格"], [None, "警示"]]."""
    grades: dict[int, str] = {}
    for row in rows:
        for minimum, grade in bands:
            if minimum is None or row.total >= minimum:
                grades[row.member_id] = grade
                break
    return grades


def _take(rows: list[RankRow], low: int, high: int) -> int:
    """How many of ``rows`` (best first) to give a grade: at least ``low`` and at most
    ``high``, never splitting a tie unless ``low`` forces it."""
    count = min(high, len(rows))
    while count > low and count < len(rows) and rows[count - 1].total == rows[count].total:
        count -= 1
    return max(count, min(low, len(rows)))


def grades_forced_distribution(rows: list[RankRow], policy: Policy) -> dict[int, str]:
    """Grades A–E by the policy's proportions inside a group of at least
    ``forced_distribution_min_group`` members (best first, ties kept together where the
    bounds allow); smaller groups are graded by the policy's bands."""
    ordered = sorted(rows, key=lambda r: (-r.total, r.member_id))
    size = len(ordered)
    if size < policy.forced_distribution_min_group:
        return grades_by_bands(ordered, policy.grade_bands)
    shares = policy.grade_distribution

    def bounds(grade: str) -> tuple[int, int]:
        low, high = shares[grade]
        return math.ceil(size * low / 100), max(math.floor(size * high / 100), 1)

    grades: dict[int, str] = {}
    remaining = ordered
    for grade in ("A", "B"):
        low, high = bounds(grade)
        count = _take(remaining, low, high)
        for row in remaining[:count]:
            grades[row.member_id] = grade
        remaining = remaining[count:]
    bottom = list(reversed(remaining))
    for grade in ("E", "D"):
        low, high = bounds(grade)
        count = _take(bottom, low, high)
        for row in bottom[:count]:
            grades[row.member_id] = grade
        bottom = bottom[count:]
    for row in bottom:
        grades[row.member_id] = "C"
    return grades


# --- vetoes -----------------------------------------------------------------------------


def member_vetoed(*, member: Member, kind: str, start: date) -> bool:
    """Whether a standing (not reversed) veto falls inside the period."""
    begin = period_start(kind, start)
    return Veto.objects.filter(
        member=member,
        entry__effective_date__gte=begin,
        entry__effective_date__lte=period_end(kind, begin),
        entry__reversals__isnull=True,
    ).exists()


def vetoed_member_ids(*, organisation: Organisation, kind: str, start: date) -> set[int]:
    begin = period_start(kind, start)
    return set(
        Veto.objects.filter(
            member__organisation=organisation,
            entry__effective_date__gte=begin,
            entry__effective_date__lte=period_end(kind, begin),
            entry__reversals__isnull=True,
        ).values_list("member_id", flat=True)
    )


# --- statement --------------------------------------------------------------------------


@dataclass
class Statement:
    member: Member
    account: Account | None
    period_kind: str
    period_start: date
    totals: dict[str, int]
    entries: list[LedgerEntry]
    rank_in_unit: int
    rank_in_organisation: int
    vetoed: bool
    period_entries: list[LedgerEntry] = field(default_factory=list)


def member_statement(
    *, member: Member, kind: str = PeriodKind.MONTH, on: date | None = None, limit: int = 50
) -> Statement:
    """Balance, this period's totals (week, month, quarter, year), the latest entries with
    source, rule and approver, and the member's rank in their unit and organisation.

    Two queries: the figures in one SQL statement (``_statement_figures``), then the
    entries. The ranks count as ``member_rank`` does."""
    if kind not in TOTAL_KINDS:
        raise ValueError(f"a statement covers a week, month, quarter or year, not {kind!r}")
    day = on or organisation_today(member.organisation)
    # A unit that is the whole organisation ranks as the organisation does.
    unit = member.unit if member.unit.parent_id is not None else None
    figures = _statement_figures(member, str(kind), day, unit)
    entries = list(
        LedgerEntry.objects.filter(member=member)
        .select_related("rule_item", "approved_by")
        .order_by("-booked_on", "-id")[:limit]
    )
    return Statement(
        member=member,
        account=figures.account,
        period_kind=kind,
        period_start=period_start(kind, day),
        totals=figures.totals,
        entries=entries,
        rank_in_unit=figures.rank_in_organisation if unit is None else figures.rank_in_unit,
        rank_in_organisation=figures.rank_in_organisation,
        vetoed=figures.vetoed,
    )


@dataclass
class _Figures:
    totals: dict[str, int]
    rank_in_organisation: int
    rank_in_unit: int
    vetoed: bool
    account: Account | None


#: The account's columns a statement reads, in the model's field order (``from_db``);
#: ``updated_at`` is left deferred.
_ACCOUNT_FIELDS = [
    "id",
    "member_id",
    "organisation_id",
    "lifetime_total",
    "redeemable",
    "frozen",
    "flagged_for_review",
]


def _statement_figures(member: Member, kind: str, day: date, unit: OrgUnit | None) -> _Figures:
    """A statement's totals, ranks, veto and account in one round trip. ``mine`` is the
    member's total of the statement's period; the ranks count the higher totals as
    ``member_rank`` does (rank buckets for the organisation, the unit's members for the
    unit; a week sums the entries)."""
    org = member.organisation_id
    begin = period_start(kind, day)
    week = period_start(PeriodKind.WEEK, day)
    width = RANK_BUCKET_WIDTH
    ctes: list[str] = []
    params: list[Any] = []
    if unit is not None:
        ctes.append(_UNIT_MEMBERS)
        params += [org, unit.path + "%"]
    week_total = (
        "SELECT SUM(amount) FROM points_ledgerentry WHERE member_id = %s "
        "AND booked_on >= %s AND booked_on <= %s AND in_period_totals = %s"
    )
    week_params = [member.pk, week, period_end(PeriodKind.WEEK, week), True]
    rank_params: list[Any]
    if kind in STORED_KINDS:
        ctes.append(
            "mine AS (SELECT COALESCE((SELECT total FROM points_periodtotal WHERE "
            "member_id = %s AND period_kind = %s AND period_start = %s), 0) AS t)"
        )
        params += [member.pk, kind, begin]
        bucket = f"((mine.t - ((mine.t %% {width} + {width}) %% {width})) / {width})"
        period = "organisation_id = %s AND period_kind = %s AND period_start = %s"
        rank_org = (
            f"1 + COALESCE((SELECT SUM(members) FROM points_rankbucket WHERE {period} "  # noqa: S608
            f"AND bucket > {bucket}), 0) + (SELECT COUNT(*) FROM points_periodtotal WHERE "
            f"{period} AND total > mine.t AND total < ({bucket} + 1) * {width})"
        )
        rank_params = [org, kind, begin, org, kind, begin]
        rank_unit = "1 + (" + _UNIT_HIGHER.format(total="mine.t") + ")"
        unit_params: list[Any] = [kind, begin]
    else:  # a week: from the entries
        week_sql, week_sql_params = _week_totals(org, begin)
        ctes.append(f"week_totals AS MATERIALIZED ({week_sql})")
        ctes.append(f"mine AS (SELECT COALESCE(({week_total}), 0) AS t)")
        params += [*week_sql_params, *week_params]
        rank_org = "1 + (SELECT COUNT(*) FROM week_totals w WHERE w.total > mine.t)"
        rank_params = []
        rank_unit = (
            "1 + (SELECT COUNT(*) FROM week_totals w JOIN unit_members um "
            "ON um.id = w.member_id WHERE w.total > mine.t)"
        )
        unit_params = []
    kept = " ".join(
        f"(SELECT total FROM points_periodtotal WHERE member_id = %s AND "  # noqa: S608
        f"period_kind = '{stored}' AND period_start = %s),"
        for stored in STORED_KINDS
    )
    for stored in STORED_KINDS:
        params += [member.pk, period_start(stored, day)]
    params += [*week_params, *rank_params]
    if unit is None:
        rank_unit, unit_params = "0", []
    params += unit_params
    # As member_vetoed: a standing (not reversed) veto of an entry dated in the period.
    vetoed = (
        "EXISTS (SELECT 1 FROM points_veto v JOIN points_ledgerentry e "
        "ON e.id = v.entry_id WHERE v.member_id = %s AND e.effective_date >= %s "
        "AND e.effective_date <= %s AND NOT EXISTS (SELECT 1 FROM points_ledgerentry r "
        "WHERE r.reverses_id = e.id))"
    )
    params += [member.pk, begin, period_end(kind, begin), member.pk]
    account = ", ".join(f"a.{name}" for name in _ACCOUNT_FIELDS)
    sql = (
        f"WITH {', '.join(ctes)} SELECT {kept} ({week_total}), {rank_org}, {rank_unit}, "  # noqa: S608
        f"{vetoed}, {account} FROM mine "
        "LEFT JOIN points_account a ON a.member_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    kept_count = len(STORED_KINDS)
    totals = {str(k): int(v or 0) for k, v in zip(STORED_KINDS, row[:kept_count], strict=True)}
    week_value, rank_org_value, rank_unit_value, vetoed_value = row[kept_count : kept_count + 4]
    totals[str(PeriodKind.WEEK)] = int(week_value or 0)
    holder = None
    pk, member_id, organisation_id, lifetime, redeemable, frozen, flagged = row[kept_count + 4 :]
    if pk is not None:
        holder = Account.from_db(
            connection.alias,
            _ACCOUNT_FIELDS,
            [pk, member_id, organisation_id, lifetime, redeemable, bool(frozen), bool(flagged)],
        )
    return _Figures(
        totals={str(k): totals[str(k)] for k in TOTAL_KINDS},
        rank_in_organisation=int(rank_org_value),
        rank_in_unit=int(rank_unit_value),
        vetoed=bool(vetoed_value),
        account=holder,
    )


def member_period_entries(*, member: Member, kind: str, on: date) -> list[LedgerEntry]:
    """The member's entries booked in the period (week, month, quarter, year) that holds
    ``on``, oldest first, with their rule and approver."""
    begin = period_start(kind, on)
    return list(
        LedgerEntry.objects.filter(
            member=member, booked_on__gte=begin, booked_on__lte=period_end(kind, begin)
        )
        .select_related("rule_item", "approved_by")
        .order_by("booked_on", "id")
    )


# --- the totals check -------------------------------------------------------------------

#: The kept period kinds (``STORED_KINDS``; a check constraint refuses others).
_TRUNC = {
    PeriodKind.MONTH: TruncMonth,
    PeriodKind.QUARTER: TruncQuarter,
    PeriodKind.YEAR: TruncYear,
}


def ledger_verify(*, chunk: int = 2000) -> list[str]:
    """Recompute every account and kept period total (month, quarter, year) and every rank
    bucket from the entries, a chunk of members at a time (bounded memory); one line per
    difference."""
    problems: list[str] = []
    member_ids = sorted(
        {
            *Account.objects.values_list("member_id", flat=True),
            *LedgerEntry.objects.values_list("member_id", flat=True).distinct(),
        }
    )
    for start in range(0, len(member_ids), chunk):
        problems += _verify_members(member_ids[start : start + chunk])
    return problems + _verify_buckets()


def _verify_buckets() -> list[str]:
    """Every rank bucket holds exactly the number of totals that fall in it."""
    expected: dict[tuple[int, str, date, int], int] = defaultdict(int)
    for organisation_id, kind, start, total in PeriodTotal.objects.values_list(
        "organisation_id", "period_kind", "period_start", "total"
    ).iterator(chunk_size=20000):
        expected[(organisation_id, kind, start, total // RANK_BUCKET_WIDTH)] += 1
    stored = {
        (organisation_id, kind, start, bucket): members
        for organisation_id, kind, start, bucket, members in RankBucket.objects.values_list(
            "organisation_id", "period_kind", "period_start", "bucket", "members"
        )
    }
    return [
        f"rank bucket {key[1]} {key[2]} [{key[3] * RANK_BUCKET_WIDTH}, "
        f"{(key[3] + 1) * RANK_BUCKET_WIDTH}) of organisation {key[0]}: stored "
        f"{stored.get(key, 0)}, totals say {expected.get(key, 0)}"
        for key in sorted(set(stored) | set(expected))
        if stored.get(key, 0) != expected.get(key, 0)
    ]


def _verify_members(member_ids: list[int]) -> list[str]:
    problems: list[str] = []
    entries = LedgerEntry.objects.filter(member_id__in=member_ids)
    sums = {
        member_id: (amount or 0, redeemable or 0)
        for member_id, amount, redeemable in entries.values("member_id")
        .annotate(a=Sum("amount"), r=Sum("redeemable_delta"))
        .values_list("member_id", "a", "r")
        .order_by()
    }
    accounts = {
        member_id: (lifetime, redeemable)
        for member_id, lifetime, redeemable in Account.objects.filter(
            member_id__in=member_ids
        ).values_list("member_id", "lifetime_total", "redeemable")
    }
    for member_id in member_ids:
        expected = sums.get(member_id, (0, 0))
        if member_id not in accounts:
            problems.append(f"member {member_id} has entries but no account")
        elif accounts[member_id] != expected:
            lifetime, redeemable = accounts[member_id]
            problems.append(
                f"account of member {member_id}: lifetime {lifetime} / redeemable {redeemable}"
                f", entries say {expected[0]} / {expected[1]}"
            )
    for kind, trunc in _TRUNC.items():
        expected_totals: dict[tuple[int, date], int] = defaultdict(int)
        for member_id, start, total in (
            entries.filter(in_period_totals=True)
            .annotate(start=trunc("booked_on"))
            .values("member_id", "start")
            .annotate(t=Sum("amount"))
            .values_list("member_id", "start", "t")
            .order_by()
        ):
            expected_totals[(member_id, _as_date(start))] += total or 0
        stored = {
            (member_id, start): total
            for member_id, start, total in PeriodTotal.objects.filter(
                member_id__in=member_ids, period_kind=kind
            ).values_list("member_id", "period_start", "total")
        }
        for key in sorted(set(stored) | set(expected_totals)):
            if stored.get(key, 0) != expected_totals.get(key, 0):
                problems.append(
                    f"{kind} total of member {key[0]} from {key[1]}: stored "
                    f"{stored.get(key, 0)}, entries say {expected_totals.get(key, 0)}"
                )
    return problems


def _as_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# --- caps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapUsage:
    rule: Any
    used_today: int
    used_this_month: int

    @property
    def used(self) -> bool:
        """Some of the cap is taken today or this month."""
        return bool(self.used_today or self.used_this_month)


def member_cap_usage(*, member: Member, day: date) -> list[CapUsage]:
    """For each capped rule that applies to the member: the points already in the ledger
    today and this month (net of reversals of daily entries), as the posting caps count."""
    from django.db.models import Q

    from points.selectors.catalog import rule_items_for_unit

    rules = list(
        rule_items_for_unit(unit=member.unit).filter(
            Q(cap_per_day__isnull=False) | Q(cap_per_month__isnull=False)
        )
    )
    if not rules:
        return []
    rows = _capped_entries(day, member=member, rule_item__in=rules).values_list(
        "rule_item_id", "effective_date"
    )
    today, month = _cap_sums(rows.annotate(net=Sum("amount")).order_by(), day)
    return [CapUsage(rule, abs(today[rule.pk]), abs(month[rule.pk])) for rule in rules]


def rule_cap_usage(*, rule: Any, members: list[Member], day: date) -> dict[int, CapUsage]:
    """``member_cap_usage`` of one rule for many members (a notice's), by member id, in
    one query."""
    rows = _capped_entries(day, member__in=members, rule_item=rule).values_list(
        "member_id", "effective_date"
    )
    today, month = _cap_sums(rows.annotate(net=Sum("amount")).order_by(), day)
    return {m.pk: CapUsage(rule, abs(today[m.pk]), abs(month[m.pk])) for m in members}


def _capped_entries(day: date, **lookups: Any) -> QuerySet[LedgerEntry]:
    """The entries the caps count in ``day``'s month: daily entries and corrections, net
    of their reversals."""
    from django.db.models import Q

    from points.models import EntryKind

    begin = period_start(PeriodKind.MONTH, day)
    counted = [EntryKind.DAILY, EntryKind.CORRECTION]
    return LedgerEntry.objects.filter(
        effective_date__gte=begin,
        effective_date__lte=period_end(PeriodKind.MONTH, begin),
        **lookups,
    ).filter(Q(kind__in=counted) | Q(kind=EntryKind.REVERSAL, reverses__kind__in=counted))


def _cap_sums(rows: Any, day: date) -> tuple[dict[int, int], dict[int, int]]:
    """(key, effective date, net) rows summed by key: on ``day`` and in its month."""
    today: dict[int, int] = defaultdict(int)
    month: dict[int, int] = defaultdict(int)
    for key, effective, net in rows:
        month[key] += net or 0
        if effective == day:
            today[key] += net or 0
    return today, month
