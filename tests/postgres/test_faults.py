"""No point is lost or counted twice under faults.

- A real Celery worker (on Redis) posting a 5,000-item publicity batch is killed in the
  middle of its posting transaction, twice: once its pool process alone (the task is
  requeued at once), then the whole worker (the task comes back after Redis's visibility
  timeout, to a new worker). Every item ends up posted exactly once.
- The database fails in the middle of a posting (several items with co-awards), of a
  window close and of a redemption (spend + stock + process): nothing is half-written,
  and the same call succeeds afterwards.

Faults are injected with PostgreSQL triggers installed by the test: one raises on the Nth
row written to a table, one holds the posting transaction open (``pg_sleep``) after its
ledger entries are written, so that the worker can be killed at that exact point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
import time_machine
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Model, Sum
from django.test import Client
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from flows.flows import RedemptionFlow
from flows.models import (
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    ItemStatus,
    Notification,
    Redemption,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.publicity import publicity_close
from points.models import (
    Account,
    AuditEvent,
    EntryKind,
    LedgerEntry,
    Period,
    PeriodTotal,
    RankBucket,
    Reward,
    Veto,
)
from points.selectors.ledger import ledger_verify
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory
from tests.flows.test_publicity import _close_after_window, _published
from tests.flows.test_publicity import rule as rule

pytestmark = pytest.mark.postgres

T = TypeVar("T")

# --- fault injection ----------------------------------------------------------------------


def _sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def _fail_on(table: str, event: str = "INSERT", nth: int = 1) -> Iterator[None]:
    """The ``nth`` row written to ``table`` (counted across transactions: a sequence is not
    rolled back) raises, once; later writes pass, like a transient fault."""
    _sql("CREATE SEQUENCE faults_count")
    _sql(
        "CREATE FUNCTION faults_raise() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF nextval('faults_count') = {int(nth)} THEN "
        f"RAISE EXCEPTION 'injected fault: {event} #{int(nth)} on {table}'; END IF; "
        "RETURN NEW; END $$"
    )
    _sql(
        f"CREATE TRIGGER faults_raise BEFORE {event} ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION faults_raise()"
    )
    try:
        yield
    finally:
        _sql(f"DROP TRIGGER IF EXISTS faults_raise ON {table}")
        _sql("DROP FUNCTION IF EXISTS faults_raise()")
        _sql("DROP SEQUENCE IF EXISTS faults_count")


#: Everything a posting, a window close or a redemption may write.
WRITTEN: list[type[Model]] = [
    LedgerEntry,
    Account,
    PeriodTotal,
    RankBucket,
    Period,
    Veto,
    AuditEvent,
    Summary,
    SummaryItem,
    Reward,
    Redemption,
    Notification,
    Process,
    Task,
]


def _state() -> dict[str, list[dict[str, Any]]]:
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in WRITTEN}


def _assert_unchanged(before: dict[str, list[dict[str, Any]]]) -> None:
    after = _state()
    changed = {label: (len(before[label]), len(after[label])) for label in before}
    assert {k: v for k, v in changed.items() if before[k] != after[k]} == {}
    assert ledger_verify() == []


# --- database errors in the middle of a posting -------------------------------------------


@pytest.mark.parametrize(
    ("table", "event", "nth"),
    [
        ("points_period", "INSERT", 1),  # the first write: the month's row
        ("points_ledgerentry", "INSERT", 3),  # half-way through the entries (one COPY)
        ("points_ledgerentry", "INSERT", 7),  # the first leader co-award (a second COPY)
        ("points_periodtotal", "INSERT", 4),  # period totals, after every entry
        ("points_rankbucket", "INSERT", 1),  # rank buckets
        ("points_account", "UPDATE", 1),  # account totals
        ("points_auditevent", "INSERT", 1),  # the audit row: the last write
    ],
)
def test_a_database_error_in_the_middle_of_a_posting_writes_nothing(
    table: str, event: str, nth: int
) -> None:
    org = Org("dberr")
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=10,
        points_max=100,
        leader_coaward_ratio=Decimal("0.5"),
    )
    members = [org.worker_a1, org.worker_b, org.recorder]
    items = [
        PostingItem(
            member_id=member.pk,
            idempotency_key=f"fault:{member.pk}:{day}",
            effective_date=date(2026, 11, day),
            amount=10 * day,
            rule_item_id=rule.pk,
        )
        for member in members
        for day in (3, 4)
    ]
    before = _state()
    with _fail_on(table, event, nth):
        with pytest.raises(DatabaseError, match="injected fault"):
            ledger_post_batch(organisation=org.organisation, items=items)
        _assert_unchanged(before)
        result = ledger_post_batch(organisation=org.organisation, items=items)  # the retry
    assert result.posted_count == 12  # six entries, six co-awards for their leaders
    keys = LedgerEntry.objects.filter(idempotency_key__startswith="fault:")
    assert sorted(keys.values_list("idempotency_key", flat=True)) == sorted(
        [i.idempotency_key for i in items] + [f"{i.idempotency_key}:coaward" for i in items]
    )
    gained = dict(
        Account.objects.filter(member__in=members).values_list("member_id", "lifetime_total")
    )
    lost = {m["member_id"]: m["lifetime_total"] for m in before["points.Account"]}
    assert {pk: gained[pk] - lost[pk] for pk in gained} == {m.pk: 70 for m in members}
    assert ledger_verify() == []


@pytest.mark.parametrize(
    ("table", "event", "nth"),
    [
        ("points_ledgerentry", "INSERT", 2),  # the second item's entry
        ("flows_summaryitem", "UPDATE", 1),  # the items' outcome, after the ledger
        ("flows_summary", "UPDATE", 1),  # the batch's state
        ("points_auditevent", "INSERT", 2),  # the close's audit row: the last write
    ],
)
def test_a_database_error_while_closing_a_window_posts_nothing_until_the_retry(
    org: Org, rule: Any, committee2: Any, table: str, event: str, nth: int
) -> None:
    summary = _published(org, rule, committee2)
    assert summary.window_ends_at is not None
    before = _state()
    with _fail_on(table, event, nth):
        with pytest.raises(DatabaseError, match="injected fault"):
            publicity_close(summary=summary, now=summary.window_ends_at + timedelta(minutes=1))
        _assert_unchanged(before)
        _close_after_window(summary)  # the beat job's next run
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.POSTED
    assert summary.process.finished is not None
    items = list(summary.items.all())
    assert [item.status for item in items] == [ItemStatus.POSTED] * 2
    assert sorted(
        LedgerEntry.objects.filter(idempotency_key__startswith="summary-item:").values_list(
            "idempotency_key", flat=True
        )
    ) == sorted(f"summary-item:{item.pk}" for item in items)
    assert AuditEvent.objects.filter(action="summary.post").count() == 1
    assert ledger_verify() == []


@pytest.mark.parametrize(
    ("table", "event", "nth"),
    [
        ("flows_redemption", "INSERT", 1),  # the request's row
        ("points_ledgerentry", "INSERT", 1),  # the spend
        ("points_account", "UPDATE", 1),  # the balance
        ("points_reward", "UPDATE", 1),  # the stock
        ("flows_redemption", "UPDATE", 1),  # linking the entry
        ("flows_notification", "INSERT", 1),  # telling the member
        ("viewflow_process", "INSERT", 1),  # the process (no orphan when the rest fails)
        ("viewflow_task", "INSERT", 2),  # HR's approval task: the last write
    ],
)
def test_a_database_error_in_the_middle_of_a_redemption_spends_nothing(
    table: str, event: str, nth: int
) -> None:
    org = Org("shopfault")
    reward = Reward.objects.create(
        organisation=org.organisation, name="保温杯", points_cost=100, stock=5
    )
    client = Client()
    assert client.login(username=org.worker_a1.user.username, password=TEST_PASSWORD)
    redeemable = Account.objects.get(member=org.worker_a1).redeemable
    before = _state()
    with _fail_on(table, event, nth):
        with pytest.raises(DatabaseError, match="injected fault"):
            client.post("/shop/redemption/start/", {"reward": reward.pk, "note": ""})
        _assert_unchanged(before)
        assert not Process.objects.filter(flow_class=RedemptionFlow).exists()
        response = client.post("/shop/redemption/start/", {"reward": reward.pk, "note": ""})
    assert response.status_code == 302, response.content.decode()[:2000]
    redemption = Redemption.objects.get()
    assert redemption.entry is not None and redemption.process is not None
    assert redemption.entry.idempotency_key == f"redemption:{redemption.pk}"
    assert Task.objects.filter(
        process=redemption.process, flow_task=RedemptionFlow.approve, status=STATUS.NEW
    ).exists()
    reward.refresh_from_db()
    assert reward.stock == 4
    assert Account.objects.get(member=org.worker_a1).redeemable == redeemable - 100
    assert LedgerEntry.objects.filter(kind=EntryKind.REDEMPTION).count() == 1
    assert ledger_verify() == []


# --- a worker killed while posting --------------------------------------------------------

ITEMS = 5000
PAUSE_TRIGGER = "faults_pause"
#: The recovering worker's visibility timeout (seconds): a message taken by a worker that
#: died unacknowledged is handed out again once it is this old.
VISIBILITY_TIMEOUT = 3


def _real_now() -> datetime:
    """The wall clock: the worker does not travel in time with the test."""
    return datetime.fromtimestamp(time_machine.escape_hatch.time.time(), UTC)


def _big_summary(org: Org, rule: Any, committee2: Any) -> Summary:
    """A published summary (through the web pages) grown to ``ITEMS`` approved items of 20
    more members, written in bulk; its window (and the flow's timer) ended a minute ago."""
    summary = _published(org, rule, committee2)
    members = [
        org.member(org.team_a1 if n % 2 else org.dept_b, f"{org.organisation.code}-m{n}")
        for n in range(20)
    ]
    reviewer = {org.team_a1.pk: org.leader_a1.user, org.dept_b.pk: org.leader_b.user}
    declarations = Declaration.objects.bulk_create(
        Declaration(
            organisation=org.organisation,
            member=member,
            submitted_by=member.user,
            reviewer=reviewer[member.unit_id],
            status=DeclarationStatus.APPROVED,
        )
        for member in members
    )
    more = ITEMS - summary.items.count()
    sources = DeclarationItem.objects.bulk_create(
        DeclarationItem(
            declaration=declarations[n % len(declarations)],
            rule_item=rule,
            points=10 + n % 91,
            approved_points=10 + n % 91,
            event_date=date(2026, 11, 1 + n % 19),
            place="二号车间",
            description=f"合理化建议 {n}",
            pool_month=date(2026, 11, 1),
        )
        for n in range(more)
    )
    by_declaration = {d.pk: d for d in declarations}
    SummaryItem.objects.bulk_create(
        (
            SummaryItem(
                summary=summary,
                declaration_item=source,
                member_id=by_declaration[source.declaration_id].member_id,
                rule_item=rule,
                quantity=1,
                points=source.points,
                amount=source.points,
                event_date=source.event_date,
                description=source.description,
                approved_by=by_declaration[source.declaration_id].reviewer,
            )
            for source in sources
        ),
        batch_size=1000,
    )
    ended = _real_now() - timedelta(minutes=1)
    Summary.objects.filter(pk=summary.pk).update(window_ends_at=ended)
    Task.objects.filter(process_id=summary.process_id, status=STATUS.SCHEDULED).update(
        scheduled=ended
    )
    summary.refresh_from_db()
    assert summary.items.filter(status=ItemStatus.INCLUDED).count() == ITEMS
    return summary


def _install_pause() -> None:
    """After the posting's entries are written (the COPY's statement trigger), record how
    many there are in a sequence (visible outside the transaction: sequences are not
    transactional) and hold the transaction open."""
    _sql("CREATE SEQUENCE faults_written MINVALUE 0 START 0")
    _sql(
        "CREATE FUNCTION faults_pause() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM setval('faults_written', (SELECT count(*) FROM written)); "
        "PERFORM pg_sleep(60); RETURN NULL; END $$"
    )
    _sql(
        f"CREATE TRIGGER {PAUSE_TRIGGER} AFTER INSERT ON points_ledgerentry "
        "REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION faults_pause()"
    )


def _remove_pause() -> None:
    _sql("SET lock_timeout = '30s'")
    try:
        _sql(f"DROP TRIGGER IF EXISTS {PAUSE_TRIGGER} ON points_ledgerentry")
        _sql("DROP FUNCTION IF EXISTS faults_pause()")
        _sql("DROP SEQUENCE IF EXISTS faults_written")
    finally:
        _sql("RESET lock_timeout")


class Workers:
    """Celery workers started as subprocesses on the test database and a Redis database of
    their own; every one is killed when the test ends, whatever happens."""

    def __init__(self, tmp_path: Path) -> None:
        import redis

        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
        base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
        self.broker = f"{base}/{10 + int(worker.removeprefix('gw') or 0) % 6}"
        self.redis = redis.Redis.from_url(self.broker)
        self.redis.flushdb()
        db = connection.settings_dict
        self.app_name = f"faults-{db['NAME']}"[:60]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "project.settings.test",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}"
                f"/{db['NAME']}"
            ),
            "CELERY_BROKER_URL": self.broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            # libpq: name the worker's sessions, and have the server notice within a fifth of
            # a second that a killed worker's connection is gone (even mid-query).
            "PGAPPNAME": self.app_name,
            "PGOPTIONS": "-c client_connection_check_interval=200",
        }
        self.log = tmp_path / "workers.log"
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        name = f"faults{len(self.started)}@%h"
        with self.log.open("ab") as log:
            log.write(f"\n===== worker {name} =====\n".encode())
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "project", "worker", "-n", name),
                    *("--pool=prefork", "--concurrency=1", "--prefetch-multiplier=1"),
                    *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                    "--loglevel=INFO",
                ],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with its children
            )
        self.started.append(process)
        return process

    def queue(self, task: str) -> None:
        from celery import Celery

        sender = Celery("faults-sender", broker=self.broker)
        try:
            sender.send_task(task)
        finally:
            sender.close()

    def pending(self) -> tuple[int, int]:
        """Messages (waiting in the queue, taken but not acknowledged)."""
        return int(self.redis.llen("celery")), int(self.redis.hlen("unacked"))

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def wait(self, what: str, check: Callable[[], T | None], timeout: float = 60) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"timed out after {timeout}s waiting for {what}\n{self.tail()}")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.redis.flushdb()
        self.redis.close()


def _pool_children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _paused_backend(app_name: str, not_pid: int | None = None) -> int | None:
    """The worker's database session whose posting transaction has written its entries and
    is held open by the pause trigger."""
    rows = _sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND "
        "wait_event = 'PgSleep' AND xact_start IS NOT NULL",
        [app_name],
    )
    pids = [pid for (pid,) in rows if pid != not_pid]
    return pids[0] if pids else None


def _gone(pid: int) -> bool:
    return not _sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])


def _written_in_open_transaction() -> int:
    return int(_sql("SELECT last_value FROM faults_written")[0][0])


def _posted_keys() -> int:
    return LedgerEntry.objects.filter(idempotency_key__startswith="summary-item:").count()


def test_a_worker_killed_while_posting_a_batch_posts_every_item_exactly_once(
    org: Org, rule: Any, committee2: Any, tmp_path: Path
) -> None:
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        pytest.skip("needs Redis: make test runs this in its PostgreSQL + Redis pass")
    started = time.monotonic()
    summary = _big_summary(org, rule, committee2)
    items = list(summary.items.values_list("pk", "member_id", "amount"))
    expected: dict[int, int] = {}
    for _pk, member_id, amount in items:
        expected[member_id] = expected.get(member_id, 0) + amount
    totals_before = dict(Account.objects.values_list("member_id", "lifetime_total"))
    built = time.monotonic()

    workers = Workers(tmp_path)
    _install_pause()
    try:
        first = workers.start()
        workers.queue("flows.tasks.close_publicity_windows")

        # 1. The pool process dies in the middle of the posting transaction.
        paused = workers.wait(
            "the posting to write its entries", lambda: _paused_backend(workers.app_name)
        )
        assert _written_in_open_transaction() == ITEMS  # written, not committed
        assert _posted_keys() == 0
        children = _pool_children(first.pid)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        killed_at = time.monotonic()
        workers.wait("the killed process's session to end", lambda: _gone(paused), 15)
        # The parent sees its pool process lost and requeues the task at once
        # (acks_late + reject_on_worker_lost); a new pool process takes it again.
        again = workers.wait(
            "the requeued task to post again",
            lambda: _paused_backend(workers.app_name, not_pid=paused),
        )
        requeued_in = time.monotonic() - killed_at
        assert _written_in_open_transaction() == ITEMS
        assert _posted_keys() == 0

        # 2. The whole worker dies (main process and pool) in the same place.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        workers.wait("the killed worker's session to end", lambda: _gone(again), 15)
        summary.refresh_from_db()
        assert summary.status == SummaryStatus.PUBLICITY
        assert _posted_keys() == 0  # the open transaction was rolled back
        assert workers.pending() == (0, 1)  # taken, never acknowledged: not lost
        _remove_pause()

        # 3. A new worker hands the message out again once it is older than the visibility
        # timeout, and posts everything.
        time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT - time.monotonic()))
        workers.start()
        workers.wait(
            "the new worker to post the batch",
            lambda: Summary.objects.filter(pk=summary.pk, status=SummaryStatus.POSTED).exists(),
            90,
        )
        redelivered_in = time.monotonic() - killed_at
        workers.wait("the task to be acknowledged", lambda: workers.pending() == (0, 0), 30)
    finally:
        workers.stop_all()
        _remove_pause()
    print(
        f"\n{ITEMS} items built in {built - started:.1f}s; pool process killed: posting again "
        f"after {requeued_in:.1f}s; worker killed: redelivered and posted after "
        f"{redelivered_in:.1f}s"
    )

    # Every item posted exactly once, the batch posted, the totals right.
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.POSTED
    keys = list(
        LedgerEntry.objects.filter(idempotency_key__startswith="summary-item:").values_list(
            "idempotency_key", flat=True
        )
    )
    assert len(keys) == len(set(keys)) == ITEMS
    assert set(keys) == {f"summary-item:{pk}" for pk, _m, _a in items}
    posted = SummaryItem.objects.filter(summary=summary)
    assert set(posted.values_list("status", flat=True)) == {ItemStatus.POSTED}
    assert posted.filter(ledger_entry__isnull=True).count() == 0
    assert posted.values("ledger_entry").distinct().count() == ITEMS
    assert AuditEvent.objects.filter(action="summary.post").count() == 1
    assert LedgerEntry.objects.filter(idempotency_key__startswith="summary-item:").aggregate(
        total=Sum("amount")
    )["total"] == sum(expected.values())
    totals_after = dict(Account.objects.values_list("member_id", "lifetime_total"))
    assert {
        member_id: totals_after[member_id] - totals_before.get(member_id, 0)
        for member_id in expected
    } == expected
    assert ledger_verify() == []
