"""``manage.py bench``: our figures beside raw-SQL baselines measured in the same run.

A synthetic organisation (code ``bench``) is generated on the configured database: on
PostgreSQL entirely server-side (``generate_series``), so the Django process stays small
even for 10,000,000 entries; on SQLite in chunks (small scales only). The organisation is
reused by later runs of the same scale.

Other apps add figures with ``register`` (flows register theirs in ``AppConfig.ready``).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

import psycopg
from django.db import connection, transaction

from points.models import (
    LedgerEntry,
    Member,
    Organisation,
    OrgUnit,
    PeriodTotal,
)
from points.periods import month_start, period_end, period_start
from points.selectors.ledger import member_statement, ranking_for_period
from points.services import ledger_io
from points.services.ledger import PostingItem, ledger_post_batch
from points.services.org import organisation_create


@dataclass
class Figure:
    name: str
    ours: float
    baseline: float | None
    unit: str
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not self.ours:
            return None
        return self.ours / self.baseline

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = None if self.ratio is None else round(self.ratio, 4)
        return data


@dataclass
class Scale:
    members: int
    entries: int
    months: int
    batch: int

    @property
    def code(self) -> str:
        return f"{self.members}/{self.entries}/{self.months}"


@dataclass
class Context:
    organisation: Organisation
    scale: Scale
    first_month: date
    last_month: date
    log: Callable[[str], None]


BenchFunction = Callable[[Context], list[Figure]]
_REGISTRY: list[BenchFunction] = []


def register(function: BenchFunction) -> BenchFunction:
    """Add a measurement to ``manage.py bench``."""
    if function not in _REGISTRY:
        _REGISTRY.append(function)
    return function


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(function: Callable[[], Any], repeat: int) -> float:
    """Median wall time in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# --- generation ---------------------------------------------------------------------------


def _months(scale: Scale, today: date) -> tuple[date, date]:
    last = month_start(month_start(today) - timedelta(days=1))
    first = last
    for _ in range(scale.months - 1):
        first = month_start(first - timedelta(days=1))
    return first, last


def bench_organisation(scale: Scale, log: Callable[[str], None], today: date) -> Context:
    """The synthetic organisation of this scale, generated if missing."""
    first, last = _months(scale, today)
    organisation = Organisation.objects.filter(code="bench").first()
    if organisation is not None:
        if organisation.name != f"bench {scale.code}":
            raise SystemExit(
                f"this database holds a bench organisation of another scale "
                f"({organisation.name}); use a fresh database, e.g. .ci/with-services"
            )
        log(f"reusing the bench organisation ({scale.code})")
        return Context(organisation, scale, first, last, log)
    organisation = organisation_create(code="bench", name=f"bench {scale.code}", base_points=0)
    units = _generate_units(organisation)
    log(f"generating {scale.members} members, {scale.entries} entries over {scale.months} months")
    start = time.perf_counter()
    if connection.vendor == "postgresql":
        _generate_postgres(organisation, scale, units, first, period_end("month", last), log)
    else:
        _generate_python(organisation, scale, units, first, period_end("month", last), log)
    log(f"generated in {time.perf_counter() - start:.1f} s")
    return Context(organisation, scale, first, last, log)


def _generate_units(organisation: Organisation) -> list[int]:
    root = OrgUnit.objects.create(organisation=organisation, code="root", name="总部")
    ids = []
    for d in range(10):
        dept = OrgUnit.objects.create(
            organisation=organisation, code=f"d{d}", name=f"部门{d}", parent=root
        )
        for t in range(5):
            team = OrgUnit.objects.create(
                organisation=organisation, code=f"d{d}t{t}", name=f"班组{d}-{t}", parent=dept
            )
            ids.append(team.pk)
    return ids


def _postgres_fast_inserts(cursor: Any) -> None:
    # Foreign keys and the append-only trigger are checked by triggers; bulk generation of
    # known-good rows skips them when we may (superuser), as pg_restore does.
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        cursor.execute("SET session_replication_role = replica")


def _generate_postgres(
    organisation: Organisation,
    scale: Scale,
    units: list[int],
    first: date,
    last: date,
    log: Callable[[str], None],
) -> None:
    days = (last - first).days + 1
    org = organisation.pk
    with connection.cursor() as cursor:
        _postgres_fast_inserts(cursor)
        cursor.execute(
            """
            INSERT INTO points_member (organisation_id, kind, employee_no, name, unit_id,
                position, education, title, skill_level, status)
            SELECT %s, 'person', 'B' || lpad(g::text, 7, '0'), '成员' || g,
                   (%s::bigint[])[1 + g %% %s], '', '', '', '', 'active'
            FROM generate_series(1, %s) g
            """,
            [org, units, len(units), scale.members],
        )
        cursor.execute(
            "SELECT array_agg(id ORDER BY id) FROM points_member WHERE organisation_id = %s",
            [org],
        )
        member_ids = cursor.fetchone()[0]
        # The ledger's plain secondary indexes are built once after the rows, as pg_restore
        # does: kept up row by row, their random inserts would double the generation time.
        secondary = [index for index in LedgerEntry._meta.indexes if index.condition is None]
        with connection.schema_editor() as editor:
            for index in secondary:
                editor.remove_index(LedgerEntry, index)
        try:
            step = 1_000_000
            for offset in range(0, scale.entries, step):
                count = min(step, scale.entries - offset)
                with transaction.atomic():
                    cursor.execute(
                        """
                        INSERT INTO points_ledgerentry (organisation_id, member_id, kind,
                            amount, redeemable_delta, quantity, effective_date, booked_on,
                            idempotency_key, fingerprint, approved_at, note, created_at)
                        SELECT %s, (%s::bigint[])[1 + m], 'daily', a, greatest(a, 0), 1, d, d,
                               'bench:' || g, '', now(), '', now()
                        FROM generate_series(%s::bigint, %s::bigint) g,
                        LATERAL (SELECT (g * 7919) %% %s AS m) pick,
                        LATERAL (SELECT ((g * 104729 + m * 31) %% 61) - 20 + (m %% 9) AS a,
                                        %s::date + ((g * 15485863) %% %s)::int AS d) x
                        """,
                        [org, member_ids, offset + 1, offset + count, len(member_ids), first, days],
                    )
                log(f"  {offset + count} entries")
        finally:
            log("  indexes")
            cursor.execute("SET maintenance_work_mem = '256MB'")  # the server's, not ours
            with connection.schema_editor() as editor:
                for index in secondary:
                    editor.add_index(LedgerEntry, index)
            cursor.execute("RESET maintenance_work_mem")
        log("  totals")
        _totals_sql(cursor, org)
        cursor.execute("SET session_replication_role = DEFAULT")
        # A steady-state database: autovacuum would have set the visibility map and
        # statistics by now, which index-only scans (ours and the baseline's) rely on.
        for table in ("ledgerentry", "periodtotal", "account", "member", "orgunit"):
            cursor.execute(f"VACUUM (ANALYZE) points_{table}")


def _totals_sql(cursor: Any, org: int) -> None:
    """Account and kept period totals (month, quarter, year) and their rank buckets from
    the entries (the same sums ``points_verify`` checks)."""
    cursor.execute(
        """
        INSERT INTO points_account (member_id, organisation_id, lifetime_total, redeemable,
            frozen, flagged_for_review, updated_at)
        SELECT member_id, %s, sum(amount), sum(redeemable_delta), false, sum(amount) <= 0,
               CURRENT_TIMESTAMP
        FROM points_ledgerentry WHERE organisation_id = %s GROUP BY member_id
        """,
        [org, org],
    )
    starts = {
        "postgresql": {
            "month": "date_trunc('month', booked_on)::date",
            "quarter": "date_trunc('quarter', booked_on)::date",
            "year": "date_trunc('year', booked_on)::date",
        },
        "sqlite": {
            "month": "date(booked_on, 'start of month')",
            "quarter": "printf('%%s-%%02d-01', strftime('%%Y', booked_on), "
            "((CAST(strftime('%%m', booked_on) AS INTEGER) - 1) / 3) * 3 + 1)",
            "year": "date(booked_on, 'start of year')",
        },
    }[connection.vendor]
    floor_bucket = "(total - ((total %% 10 + 10) %% 10)) / 10"  # floor division, any sign
    for kind, start in starts.items():
        cursor.execute(
            f"""
            INSERT INTO points_periodtotal (organisation_id, member_id, period_kind,
                period_start, total)
            SELECT %s, member_id, %s, {start}, sum(amount)
            FROM points_ledgerentry WHERE organisation_id = %s
            GROUP BY member_id, {start}
            """,  # noqa: S608 - fixed expressions, no user input
            [org, kind, org],
        )
    cursor.execute(
        f"""
        INSERT INTO points_rankbucket (organisation_id, period_kind, period_start, bucket,
            members)
        SELECT %s, period_kind, period_start, {floor_bucket}, count(*)
        FROM points_periodtotal WHERE organisation_id = %s
        GROUP BY period_kind, period_start, {floor_bucket}
        """,  # noqa: S608 - fixed expressions
        [org, org],
    )


def _generate_python(
    organisation: Organisation,
    scale: Scale,
    units: list[int],
    first: date,
    last: date,
    log: Callable[[str], None],
) -> None:
    days = (last - first).days + 1
    Member.objects.bulk_create(
        Member(
            organisation=organisation,
            employee_no=f"B{g:07d}",
            name=f"成员{g}",
            unit_id=units[g % len(units)],
        )
        for g in range(1, scale.members + 1)
    )
    member_ids = list(
        Member.objects.filter(organisation=organisation).order_by("pk").values_list("pk", flat=True)
    )

    def rows() -> Iterator[LedgerEntry]:
        for g in range(1, scale.entries + 1):
            m = (g * 7919) % len(member_ids)
            amount = ((g * 104729 + m * 31) % 61) - 20 + (m % 9)
            day = first + timedelta(days=(g * 15485863) % days)
            yield LedgerEntry(
                organisation=organisation,
                member_id=member_ids[m],
                kind="daily",
                amount=amount,
                redeemable_delta=max(amount, 0),
                effective_date=day,
                booked_on=day,
                idempotency_key=f"bench:{g}",
                fingerprint="",
            )

    batch: list[LedgerEntry] = []
    for entry in rows():
        batch.append(entry)
        if len(batch) == 5000:
            LedgerEntry.objects.bulk_create(batch)
            batch = []
    LedgerEntry.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        _totals_sql(cursor, organisation.pk)


# --- measurements -------------------------------------------------------------------------


def _posting_items(context: Context, tag: str, count: int | None = None) -> list[PostingItem]:
    count = count or context.scale.batch
    members = list(
        Member.objects.filter(organisation=context.organisation)
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )
    day = context.last_month + timedelta(days=14)
    return [
        PostingItem(
            member_id=members[n % len(members)],
            idempotency_key=f"bench-post:{tag}:{n}",
            effective_date=day,
            amount=5 + n % 7,
        )
        for n in range(count)
    ]


def _raw_post(context: Context, items: list[PostingItem]) -> None:
    """The baseline: the same rows by COPY (PostgreSQL) or executemany (SQLite), the account
    update and the period-total and rank-bucket upsert, in one transaction; no locks, no
    idempotency check, no caps, no audit."""
    org = context.organisation.pk
    rows = [
        (
            org,
            i.member_id,
            "daily",
            i.amount,
            i.amount,
            1,
            i.effective_date,
            i.effective_date,
            f"raw:{i.idempotency_key}",
            "",
            "",
        )
        for i in items
    ]
    columns = (
        "organisation_id, member_id, kind, amount, redeemable_delta, quantity, "
        "effective_date, booked_on, idempotency_key, fingerprint, note"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY points_ledgerentry ({columns}, created_at) FROM STDIN") as copy:
                now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
                for row in rows:
                    copy.write_row((*row, now))
        else:
            cursor.executemany(
                f"INSERT INTO points_ledgerentry ({columns}, created_at) VALUES "  # noqa: S608
                f"(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, CURRENT_TIMESTAMP)",
                rows,
            )
        per_member: dict[int, int] = {}
        by_day: dict[tuple[int, date], int] = {}
        for item in items:
            amount = item.amount or 0
            per_member[item.member_id] = per_member.get(item.member_id, 0) + amount
            key = (item.member_id, item.effective_date)
            by_day[key] = by_day.get(key, 0) + amount
        members = sorted(per_member)
        deltas = [per_member[m] for m in members]
        if connection.vendor == "postgresql":
            with psycopg.Cursor(connection.connection) as raw:
                raw.execute(
                    "UPDATE points_account SET lifetime_total = lifetime_total + v.d, "
                    "redeemable = redeemable + v.d FROM unnest(%s::bigint[], %s::integer[]) "
                    "AS v(m, d) WHERE points_account.member_id = v.m",
                    [members, deltas],
                    binary=True,
                )
        else:
            for start in range(0, len(members), 500):
                chunk = list(
                    zip(members[start : start + 500], deltas[start : start + 500], strict=True)
                )
                cursor.execute(
                    "WITH v(member_id, delta) AS (VALUES "  # noqa: S608 - placeholders only
                    + ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS INTEGER))"] * len(chunk))
                    + ") UPDATE points_account SET lifetime_total = lifetime_total + v.delta, "
                    "redeemable = redeemable + v.delta FROM v "
                    "WHERE points_account.member_id = v.member_id",
                    [value for pair in chunk for value in pair],
                )
        # The same totals and rank-bucket SQL the ledger uses (plain SQL, no checks).
        ledger_io.upsert_period_totals(org, by_day)


def bench_posting(context: Context) -> list[Figure]:
    """Best of three rounds each, alternating, after a warm-up of both paths."""
    tag = str(time.time_ns())
    warm = _posting_items(context, f"{tag}-warm", count=min(500, context.scale.batch))
    ledger_post_batch(organisation=context.organisation, items=warm, today=warm[0].effective_date)
    _raw_post(context, _posting_items(context, f"{tag}-warm-raw", count=len(warm)))
    context.log(f"posting batches of {context.scale.batch} items, three rounds")
    ours, baseline = 0.0, 0.0
    for round_ in range(3):
        items = _posting_items(context, f"{tag}-{round_}")
        start = time.perf_counter()
        result = ledger_post_batch(
            organisation=context.organisation, items=items, today=items[0].effective_date
        )
        ours = max(ours, result.posted_count / (time.perf_counter() - start))
        items = _posting_items(context, f"{tag}-raw-{round_}")
        start = time.perf_counter()
        _raw_post(context, items)
        baseline = max(baseline, len(items) / (time.perf_counter() - start))
    return [
        Figure(
            f"batch posting of {context.scale.batch} (idempotency, totals, audit)",
            ours,
            baseline,
            "entries/s",
            "≥ 9,000/s and ≥ 70% of raw COPY + upsert",
        )
    ]


def _raw_ranking(context: Context, month: date) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT member_id, s, rank() OVER (ORDER BY s DESC) FROM (
                SELECT member_id, sum(amount) AS s FROM points_ledgerentry
                WHERE organisation_id = %s AND booked_on >= %s AND booked_on <= %s
                GROUP BY member_id
            ) t ORDER BY s DESC LIMIT 100
            """,
            [context.organisation.pk, month, period_end("month", month)],
        )
        return cursor.fetchall()


def bench_ranking(context: Context) -> list[Figure]:
    month = context.last_month
    # The raw baseline's best index is the ledger's own ``entry_org_booked``
    # (organisation, booked_on, member, amount, ...): an index-only scan of the month.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE points_ledgerentry")
    ours_rows = ranking_for_period(
        organisation=context.organisation, kind="month", start=month, top=100
    )
    raw_rows = _raw_ranking(context, month)
    assert [r.total for r in ours_rows[:100]] == [row[1] for row in raw_rows], "rankings differ"
    ours = _timed(
        lambda: ranking_for_period(
            organisation=context.organisation, kind="month", start=month, top=100
        ),
        30,
    )
    baseline = _timed(lambda: _raw_ranking(context, month), 5)
    return [
        Figure(
            "monthly top-100 ranking with tied ranks",
            ours,
            baseline,
            "ms",
            "≤ 2 ms and ≥ 40× faster than raw GROUP BY",
        )
    ]


def _raw_statement(member_id: int, org: int, month: date) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lifetime_total, redeemable FROM points_account WHERE member_id = %s",
            [member_id],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT period_kind, total FROM points_periodtotal WHERE member_id = %s AND "
            "period_start IN (%s, %s, %s, %s)",
            [
                member_id,
                period_start("week", month),
                month,
                period_start("quarter", month),
                period_start("year", month),
            ],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT e.id, e.amount, e.kind, e.booked_on, r.name, u.username "
            "FROM points_ledgerentry e LEFT JOIN points_ruleitem r ON r.id = e.rule_item_id "
            "LEFT JOIN auth_user u ON u.id = e.approved_by_id WHERE e.member_id = %s "
            "ORDER BY e.booked_on DESC, e.id DESC LIMIT 50",
            [member_id],
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT total, unit_id FROM points_periodtotal t JOIN points_member m "
            "ON m.id = t.member_id WHERE t.member_id = %s AND period_kind = 'month' "
            "AND period_start = %s",
            [member_id, month],
        )
        row = cursor.fetchone()
        total = row[0] if row else 0
        cursor.execute(
            "SELECT count(*) FROM points_periodtotal WHERE organisation_id = %s AND "
            "period_kind = 'month' AND period_start = %s AND total > %s",
            [org, month, total],
        )
        cursor.fetchall()


def bench_statement(context: Context) -> list[Figure]:
    month = context.last_month
    ranking = list(
        PeriodTotal.objects.filter(
            organisation=context.organisation, period_kind="month", period_start=month
        )
        .order_by("-total", "member_id")
        .values_list("member_id", flat=True)
    )
    figures = []
    for label, member_id in (("median", ranking[len(ranking) // 2]), ("lowest", ranking[-1])):
        member = Member.objects.select_related("unit", "organisation").get(pk=member_id)
        org = context.organisation.pk
        ours = _timed(partial(member_statement, member=member, on=month), 15)
        baseline = _timed(partial(_raw_statement, member_id, org, month), 15)
        target = "≤ 20 ms" if label == "median" else "< 50 ms"
        figures.append(
            Figure(f"statement of the {label}-ranked member", ours, baseline, "ms", target)
        )
    return figures


register(bench_posting)
register(bench_ranking)
register(bench_statement)


def bench_run(scale: Scale, log: Callable[[str], None], today: date) -> list[Figure]:
    startup = peak_memory_mb()
    context = bench_organisation(scale, log, today)
    figures: list[Figure] = []
    for function in _REGISTRY:
        figures += function(context)
    figures.append(
        Figure(
            "peak memory of this process",
            peak_memory_mb(),
            startup,
            "MB",
            "< 150 MB (baseline: after start-up)",
        )
    )
    return figures
