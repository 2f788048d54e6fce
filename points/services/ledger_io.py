"""The ledger's bulk reads and writes, in the fastest form each database offers.

PostgreSQL: array parameters (``= ANY``, ``unnest``) so a statement's size does not grow
with the batch, each sent as one text literal (``_pg_array``: building it is a ``join``,
where psycopg adapts a list element by element), and ``COPY`` for new entries with primary
keys drawn from the sequence first. Other databases: the ORM and multi-row ``VALUES``.
Both paths write the same rows; the posting service decides what they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection

from points.models import Account, LedgerEntry, MemberStatus, PeriodTotal, RankBucket
from points.models.ledger import RANK_BUCKET_WIDTH, STORED_KINDS
from points.periods import period_start

CHUNK = 2000


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _insert_rows(cursor: Any, head: str, rows: Sequence[tuple[Any, ...]], tail: str) -> None:
    """``head VALUES (…), (…) tail`` in chunks of 500 rows (SQLite's variable limit)."""
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        row = "(" + ", ".join(["%s"] * len(chunk[0])) + ")"
        cursor.execute(
            f"{head} VALUES {', '.join([row] * len(chunk))} {tail}",
            [value for values in chunk for value in values],
        )


def _pg_array(values: Iterable[int | date | bool]) -> str:
    """A PostgreSQL array literal of integers, dates or booleans (no NULLs); the SQL casts
    it, e.g. ``%s::bigint[]``."""
    return "{" + ",".join(map(str, values)) + "}"


def _pg_text_array(values: Iterable[str]) -> str:
    """A PostgreSQL array literal of strings, each quoted (``%s::text[]``)."""
    return "{" + ",".join(['"' + _quote(value) + '"' for value in values]) + "}"


def _quote(value: str) -> str:
    """Escape backslashes and double quotes inside a quoted array element."""
    if "\\" not in value and '"' not in value:
        return value
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _pg_execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Execute with server-side binding on Django's connection (same transaction): a large
    array travels as one parameter instead of quoted into the SQL text."""
    import psycopg

    connection.ensure_connection()
    # Raw psycopg bypasses Django's cursor: wrap its errors as Django's (DatabaseError ...)
    # so callers catch them as from any query, and a broken connection is noticed.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql.encode(), params, binary=True)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


@dataclass(slots=True)
class EntryRow:
    """A ledger entry about to be written (or just written: ``id`` is then set)."""

    organisation_id: int
    member_id: int
    kind: str
    amount: int
    redeemable_delta: int
    rule_item_id: int | None
    rule_points_min: int | None
    rule_points_max: int | None
    quantity: int
    effective_date: date
    booked_on: date
    corrects_month: date | None
    source_type_id: int | None
    source_id: int | None
    idempotency_key: str
    fingerprint: str
    reverses_id: int | None
    approved_by_id: int | None
    approved_at: datetime | None
    note: str
    created_at: datetime
    in_period_totals: bool = True
    linked_to_id: int | None = None
    id: int | None = None

    def values(self) -> tuple[Any, ...]:
        """The row in ``_ENTRY_COLUMNS`` order."""
        return (
            self.id,
            self.organisation_id,
            self.member_id,
            self.kind,
            self.amount,
            self.redeemable_delta,
            self.rule_item_id,
            self.rule_points_min,
            self.rule_points_max,
            self.quantity,
            self.effective_date,
            self.booked_on,
            self.corrects_month,
            self.source_type_id,
            self.source_id,
            self.idempotency_key,
            self.fingerprint,
            self.reverses_id,
            self.linked_to_id,
            self.approved_by_id,
            self.approved_at,
            self.note,
            self.created_at,
            self.in_period_totals,
        )

    def as_entry(self) -> LedgerEntry:
        entry = LedgerEntry(**{column: getattr(self, column) for column in _ENTRY_COLUMNS})
        entry._state.adding = False
        entry._state.db = connection.alias
        return entry


@dataclass(slots=True)
class Balance:
    """A locked account's totals, as the posting service changes them."""

    id: int
    member_id: int
    lifetime_total: int
    redeemable: int
    frozen: bool
    flagged_for_review: bool
    changed: bool = False


@dataclass(frozen=True)
class MemberFact:
    organisation_id: int
    name: str
    leader_id: int | None  # the unit leader when active and not the member


def member_facts(member_ids: Iterable[int]) -> dict[int, MemberFact]:
    """Organisation, name and active unit leader (not the member) of each member."""
    ids = sorted(set(member_ids))
    sql = (
        "SELECT m.id, m.organisation_id, m.name, CASE WHEN l.status = %s AND l.id <> m.id "
        "THEN l.id END FROM points_member m JOIN points_orgunit u ON u.id = m.unit_id "
        "LEFT JOIN points_member l ON l.id = u.leader_id WHERE m.id "
    )
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if _postgres():
            rows = _pg_execute(sql + "= ANY(%s::bigint[])", [MemberStatus.ACTIVE, _pg_array(ids)])
        else:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                cursor.execute(
                    sql + f"IN ({', '.join(['%s'] * len(chunk))})", [MemberStatus.ACTIVE, *chunk]
                )
                rows += cursor.fetchall()
    return {row[0]: MemberFact(row[1], row[2], row[3]) for row in rows}


def existing_keys(keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    """{idempotency key: (entry id, fingerprint)} for the keys already in the ledger."""
    found: dict[str, tuple[int, str]] = {}
    with connection.cursor() as cursor:
        if _postgres():
            rows = _pg_execute(
                "SELECT idempotency_key, id, fingerprint FROM points_ledgerentry "
                "WHERE idempotency_key = ANY(%s::text[])",
                [_pg_text_array(keys)],
            )
        else:
            rows = []
            for start in range(0, len(keys), CHUNK):
                chunk = list(keys[start : start + CHUNK])
                cursor.execute(
                    "SELECT idempotency_key, id, fingerprint FROM points_ledgerentry "  # noqa: S608
                    f"WHERE idempotency_key IN ({', '.join(['%s'] * len(chunk))})",
                    chunk,
                )
                rows += cursor.fetchall()
    for key, pk, fingerprint in rows:
        found[key] = (pk, fingerprint)
    return found


#: Column types for binary COPY, in ``_ENTRY_COLUMNS`` order.
_ENTRY_TYPES = [
    "int8",
    "int8",
    "int8",
    "text",
    "int4",
    "int4",
    "int8",
    "int4",
    "int4",
    "int4",
    "date",
    "date",
    "date",
    "int4",
    "int8",
    "text",
    "text",
    "int8",
    "int8",
    "int4",
    "timestamptz",
    "text",
    "timestamptz",
    "bool",
]

_ENTRY_COLUMNS = [
    "id",
    "organisation_id",
    "member_id",
    "kind",
    "amount",
    "redeemable_delta",
    "rule_item_id",
    "rule_points_min",
    "rule_points_max",
    "quantity",
    "effective_date",
    "booked_on",
    "corrects_month",
    "source_type_id",
    "source_id",
    "idempotency_key",
    "fingerprint",
    "reverses_id",
    "linked_to_id",
    "approved_by_id",
    "approved_at",
    "note",
    "created_at",
    "in_period_totals",
]


def insert_entries(rows: list[EntryRow]) -> None:
    """Insert new entries and set their primary keys."""
    if not rows:
        return
    if not _postgres():
        entries = [row.as_entry() for row in rows]
        for entry in entries:
            entry._state.adding = True
        LedgerEntry.objects.bulk_create(entries, batch_size=CHUNK)
        for row, entry in zip(rows, entries, strict=True):
            row.id = entry.pk
        return
    with connection.cursor() as cursor:
        # The sequence is looked up once (OFFSET 0 keeps the subquery apart): called per
        # row, pg_get_serial_sequence took eight times as long as the nextval calls.
        cursor.execute(
            "SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence('points_ledgerentry', "
            "'id')::regclass AS seq OFFSET 0) s, generate_series(1, %s)",
            [len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.id = pk
        columns = ", ".join(_ENTRY_COLUMNS)
        with (
            connection.wrap_database_errors,  # as in _pg_execute
            cursor.cursor.copy(
                f"COPY points_ledgerentry ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(_ENTRY_TYPES)
            for row in rows:
                copy.write_row(row.values())


def upsert_period_totals(organisation_id: int, by_day: dict[tuple[int, date], int]) -> None:
    """Add each (member, booking day) amount to that member's month, quarter and year totals
    (``STORED_KINDS``), and move each changed total between rank buckets."""
    by_day = {key: amount for key, amount in by_day.items() if amount}
    if not by_day:
        return
    if _postgres():
        _upsert_totals_postgres(organisation_id, by_day)
    else:
        _upsert_totals_generic(organisation_id, by_day)


_TOTALS = PeriodTotal._meta.db_table
_KIND_VALUES = ", ".join(f"('{kind}')" for kind in STORED_KINDS)
_BUCKETS = RankBucket._meta.db_table
_TOTALS_CONFLICT = (
    "ON CONFLICT (member_id, period_kind, period_start) "
    f"DO UPDATE SET total = {_TOTALS}.total + excluded.total"
)
_BUCKETS_CONFLICT = (
    "ON CONFLICT (organisation_id, period_kind, period_start, bucket) "
    f"DO UPDATE SET members = {_BUCKETS}.members + excluded.members"
)


def _upsert_totals_postgres(organisation_id: int, by_day: dict[tuple[int, date], int]) -> None:
    keys = sorted(by_day)
    width = RANK_BUCKET_WIDTH
    # One statement: the period starts, the totals upsert, and the bucket moves of every
    # changed total (inserted rows have xmax = 0: they had no bucket before). Rows are
    # sorted so that concurrent batches take their row locks in one order.
    _pg_execute(
        f"""
        WITH v(m, d, a) AS (SELECT * FROM unnest(%s::bigint[], %s::date[], %s::integer[])),
        deltas AS (
            SELECT v.m, k.kind, date_trunc(k.kind, v.d)::date AS s, sum(v.a)::integer AS delta
            FROM v CROSS JOIN (VALUES {_KIND_VALUES}) AS k(kind)
            GROUP BY v.m, k.kind, date_trunc(k.kind, v.d)
            HAVING sum(v.a) <> 0
        ),
        up AS (
            INSERT INTO {_TOTALS} (organisation_id, member_id, period_kind, period_start, total)
            SELECT %s, m, kind, s, delta FROM deltas ORDER BY m, kind, s
            {_TOTALS_CONFLICT}
            RETURNING member_id, period_kind, period_start, total, (xmax = 0) AS inserted
        ),
        moves AS (
            SELECT up.period_kind AS k, up.period_start AS s,
                   floor(up.total::numeric / {width})::integer AS b, 1 AS c
            FROM up
            UNION ALL
            SELECT up.period_kind, up.period_start,
                   floor((up.total - d.delta)::numeric / {width})::integer, -1
            FROM up JOIN deltas d
              ON d.m = up.member_id AND d.kind = up.period_kind AND d.s = up.period_start
            WHERE NOT up.inserted
        )
        INSERT INTO {_BUCKETS} (organisation_id, period_kind, period_start, bucket, members)
        SELECT %s, k, s, b, sum(c) FROM moves GROUP BY k, s, b HAVING sum(c) <> 0
        ORDER BY k, s, b
        {_BUCKETS_CONFLICT}
        """,  # noqa: S608 - table names and the width are constants
        [
            _pg_array([member for member, _ in keys]),
            _pg_array([day for _, day in keys]),
            _pg_array([by_day[key] for key in keys]),
            organisation_id,
            organisation_id,
        ],
    )


def _upsert_totals_generic(organisation_id: int, by_day: dict[tuple[int, date], int]) -> None:
    deltas: dict[tuple[int, str, date], int] = defaultdict(int)
    for (member_id, day), amount in by_day.items():
        for kind in STORED_KINDS:
            deltas[(member_id, kind, period_start(kind, day))] += amount
    totals = sorted((key, delta) for key, delta in deltas.items() if delta)
    width = RANK_BUCKET_WIDTH
    moves: dict[tuple[str, date, int], int] = defaultdict(int)
    with connection.cursor() as cursor:
        for start in range(0, len(totals), 500):
            chunk = totals[start : start + 500]
            members = sorted({member_id for (member_id, _k, _s), _d in chunk})
            cursor.execute(
                f"SELECT member_id, period_kind, period_start, total FROM {_TOTALS} "  # noqa: S608
                f"WHERE member_id IN ({', '.join(['%s'] * len(members))})",
                members,
            )
            before = {
                (member_id, kind, _as_date(day)): total
                for member_id, kind, day, total in cursor.fetchall()
            }
            _insert_rows(
                cursor,
                f"INSERT INTO {_TOTALS} (organisation_id, member_id, period_kind, period_start, "
                "total)",
                [
                    (organisation_id, member_id, kind, start_day.isoformat(), delta)
                    for (member_id, kind, start_day), delta in chunk
                ],
                _TOTALS_CONFLICT,
            )
            for key, delta in chunk:
                old = before.get(key)
                new = (old or 0) + delta
                moves[(key[1], key[2], new // width)] += 1
                if old is not None:
                    moves[(key[1], key[2], old // width)] -= 1
        _insert_rows(
            cursor,
            f"INSERT INTO {_BUCKETS} (organisation_id, period_kind, period_start, bucket, members)",
            [
                (organisation_id, kind, start_day.isoformat(), bucket, count)
                for (kind, start_day, bucket), count in sorted(moves.items())
                if count
            ],
            _BUCKETS_CONFLICT,
        )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def update_balances(balances: Sequence[Balance]) -> None:
    """Write the new totals of locked accounts (absolute values)."""
    if not balances:
        return
    table = Account._meta.db_table
    with connection.cursor() as cursor:
        if _postgres():
            _pg_execute(
                f"UPDATE {table} SET lifetime_total = v.l, redeemable = v.r, "  # noqa: S608
                "flagged_for_review = v.f, updated_at = now() FROM unnest(%s::bigint[], "
                f"%s::integer[], %s::integer[], %s::boolean[]) AS v(id, l, r, f) "
                f"WHERE {table}.id = v.id",
                [
                    _pg_array([b.id for b in balances]),
                    _pg_array([b.lifetime_total for b in balances]),
                    _pg_array([b.redeemable for b in balances]),
                    _pg_array([b.flagged_for_review for b in balances]),
                ],
            )
            return
        for start in range(0, len(balances), 500):
            chunk = balances[start : start + 500]
            values = ", ".join(
                [
                    "(CAST(%s AS BIGINT), CAST(%s AS INTEGER), CAST(%s AS INTEGER), "
                    "CAST(%s AS BOOLEAN))"
                ]
                * len(chunk)
            )
            cursor.execute(
                f"WITH v(id, l, r, f) AS (VALUES {values}) UPDATE {table} SET "  # noqa: S608
                "lifetime_total = v.l, redeemable = v.r, flagged_for_review = v.f, "
                f"updated_at = CURRENT_TIMESTAMP FROM v WHERE {table}.id = v.id",
                [
                    value
                    for b in chunk
                    for value in (b.id, b.lifetime_total, b.redeemable, b.flagged_for_review)
                ],
            )


def lock_balances(organisation_id: int, member_ids: Iterable[int]) -> dict[int, Balance]:
    """Create missing accounts, then lock them (``FOR UPDATE``) in member order."""
    ids = sorted(set(member_ids))
    table = Account._meta.db_table
    columns = "id, member_id, lifetime_total, redeemable, frozen, flagged_for_review"
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if _postgres():
            array = _pg_array(ids)
            # The missing members by EXCEPT: one pass over the accounts, filtered by the
            # batch's members; the NOT EXISTS anti-join it replaces took twice as long.
            _pg_execute(
                f"INSERT INTO {table} (member_id, organisation_id, lifetime_total, redeemable, "  # noqa: S608
                "frozen, flagged_for_review, updated_at) SELECT m, %s, 0, 0, false, false, now() "
                "FROM (SELECT unnest(%s::bigint[]) EXCEPT SELECT member_id FROM "
                f"{table} WHERE member_id = ANY(%s::bigint[])) AS missing(m) "
                "ORDER BY m ON CONFLICT (member_id) DO NOTHING",
                [organisation_id, array, array],
            )
            rows = _pg_execute(
                f"SELECT {columns} FROM {table} WHERE member_id = ANY(%s::bigint[]) "  # noqa: S608
                "ORDER BY member_id FOR UPDATE",
                [array],
            )
        else:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                placeholders = ", ".join(["(%s, %s, 0, 0, 0, 0, CURRENT_TIMESTAMP)"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {table} (member_id, organisation_id, lifetime_total, "  # noqa: S608
                    "redeemable, frozen, flagged_for_review, updated_at) VALUES "
                    f"{placeholders} ON CONFLICT (member_id) DO NOTHING",
                    [value for m in chunk for value in (m, organisation_id)],
                )
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE member_id IN "  # noqa: S608
                    f"({', '.join(['%s'] * len(chunk))}) ORDER BY member_id",
                    chunk,
                )
                rows += cursor.fetchall()
    return {
        row[1]: Balance(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5])) for row in rows
    }
