"""20 sessions of the reviewer approve the same declaration review task at the same moment,
each from its own thread and connection: through the task's execute page, or half of them
through the page and half through the API (``POST /api/v1/tasks/<id>/approve/``), which
must take their locks in the same order. Exactly one approval happens: one review task
done, one move on to the next node, the items enter the pending pool once, one
``declaration.approve`` audit row, one notice to the declarant. Every other request gets a
clean refusal (the re-rendered page, a 403 or a 409), never a 500 or a deadlock. Repeated
for fresh declarations: a race that wins one time in fifty still fails."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.flows import DeclarationFlow
from flows.models import Declaration, DeclarationItem, DeclarationStatus, Notification
from flows.publicity import pending_pool
from points.models import AuditEvent
from points.selectors.ledger import ledger_verify
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, idea_rule
from tests.flows.test_declaration_flow import _declare, _task_url

pytestmark = pytest.mark.postgres

THREADS = 20
#: What a request that lost the race may answer: the review page again with the refusal,
#: or 403 (the task is no longer the reviewer's to execute); the API 403, 404 or 409.
CLEAN_REFUSALS = {"web": {200, 403, 409}, "api": {403, 404, 409}}
#: What the winner answers.
APPROVED = {"web": 302, "api": 200}


def _sql(statement: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _count_pool_writes() -> None:
    """Count every write of an item's pending-pool month (a sequence: not rolled back)."""
    _sql("CREATE SEQUENCE approval_pool_writes")
    _sql(
        "CREATE FUNCTION approval_pool_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM nextval('approval_pool_writes'); RETURN NEW; END $$"
    )
    _sql(
        "CREATE TRIGGER approval_pool_write AFTER UPDATE OF pool_month ON flows_declarationitem "
        "FOR EACH ROW EXECUTE FUNCTION approval_pool_write()"
    )


def _pool_writes() -> int:
    last_value, is_called = _sql("SELECT last_value, is_called FROM approval_pool_writes")[0]
    return int(last_value) if is_called else 0


def _drop_pool_writes() -> None:
    _sql("DROP TRIGGER IF EXISTS approval_pool_write ON flows_declarationitem")
    _sql("DROP FUNCTION IF EXISTS approval_pool_write()")
    _sql("DROP SEQUENCE IF EXISTS approval_pool_writes")


def _client(member: Any) -> Client:
    client = Client()
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


def _api_client(member: Any) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=member.user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.mark.parametrize(("ways", "rounds"), [(("web",), 50), (("web", "api"), 30)])
def test_twenty_sessions_approving_one_review_task_approve_it_once(
    ways: tuple[str, ...], rounds: int
) -> None:
    org = Org("appr")
    rule = idea_rule(org.organisation)
    declarant = _client(org.worker_a1)
    reviewers = [
        (way, _client(org.leader_a1) if way == "web" else _api_client(org.leader_a1))
        for way in (ways[n % len(ways)] for n in range(THREADS))
    ]
    _count_pool_writes()
    connection.close()  # the threads open their own connections

    # Each round: the main thread declares and publishes the task's URL; the 20 threads
    # post at once (``go``); the main thread checks once all have answered (``done``).
    go = threading.Barrier(THREADS + 1, timeout=120)
    done = threading.Barrier(THREADS + 1, timeout=120)
    task_id: list[int] = [0]
    url: list[str] = [""]
    statuses: list[list[tuple[str, int]]] = [[] for _ in range(rounds)]
    errors: list[tuple[int, BaseException]] = []

    def reviewer(way: str, client: Any) -> None:
        try:
            for round_ in range(rounds):
                go.wait()
                try:
                    if way == "web":
                        response = client.post(url[0], {"action": "approve", "reason": ""})
                    else:
                        response = client.post(
                            f"/api/v1/tasks/{task_id[0]}/approve/", {}, format="json"
                        )
                    statuses[round_].append((way, response.status_code))
                except BaseException as error:  # a 500 raises here (the client re-raises)
                    errors.append((round_, error))
                    statuses[round_].append((way, 500))
                done.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            connection.close()

    threads = [
        threading.Thread(target=reviewer, args=reviewer_, daemon=True) for reviewer_ in reviewers
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        for round_ in range(rounds):
            response = _declare(org.worker_a1, rule, points=30, client=declarant)
            assert response.status_code == 302, response.content.decode()[:2000]
            declaration = Declaration.objects.latest("pk")
            task = Task.objects.get(
                process_id=declaration.process_id,
                flow_task=DeclarationFlow.review,
                status=STATUS.ASSIGNED,
            )
            url[0] = _task_url(task)
            task_id[0] = task.pk
            go.wait()
            done.wait()
            _check_round(org, round_, declaration, statuses[round_], errors)
    finally:
        go.abort()
        done.abort()
        for thread in threads:
            thread.join(timeout=60)
        _drop_pool_writes()
        connection.close()
    elapsed = time.monotonic() - started
    answers = Counter(answer for round_statuses in statuses for answer in round_statuses)
    print(f"{rounds} rounds of {THREADS} concurrent approvals in {elapsed:.1f}s: {dict(answers)}")
    assert Declaration.objects.filter(status=DeclarationStatus.APPROVED).count() == rounds
    assert ledger_verify() == []


def _check_round(
    org: Org,
    round_: int,
    declaration: Declaration,
    statuses: list[tuple[str, int]],
    errors: list[tuple[int, BaseException]],
) -> None:
    counts = Counter(statuses)
    approved = [(way, code) for way, code in statuses if code == APPROVED[way]]
    refused = [(way, code) for way, code in statuses if code != APPROVED[way]]
    tasks = Counter(
        (task.flow_task.name, task.status)
        for task in Task.objects.filter(process_id=declaration.process_id)
    )
    approvals = AuditEvent.objects.filter(
        action="declaration.approve", data__declaration=declaration.pk
    ).count()
    # The declarant hears of each round's decision once (and of nothing else).
    told = Notification.objects.filter(user=declaration.submitted_by).count()
    pool_writes = _pool_writes() - round_  # one write per earlier round
    report = (
        f"round {round_}: responses {dict(counts)}, tasks {dict(tasks)}, "
        f"approve audit rows {approvals}, pool month writes {pool_writes}, "
        f"errors {[repr(e)[:300] for r, e in errors if r == round_][:3]}"
    )
    if len(approved) != 1 or approvals != 1:
        print(report)
    assert not [e for r, e in errors if r == round_], report
    assert len(approved) == 1, report
    assert all(code in CLEAN_REFUSALS[way] for way, code in refused), report
    assert approvals == 1, report
    # One transition: the review task done once, the route and the end reached once.
    assert tasks == {
        ("start", STATUS.DONE): 1,
        ("review", STATUS.DONE): 1,
        ("route", STATUS.DONE): 1,
        ("end", STATUS.DONE): 1,
    }, report
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.APPROVED, report
    assert declaration.process.finished is not None, report
    items = DeclarationItem.objects.filter(declaration=declaration)
    assert [(i.pool_month, i.approved_points) for i in items] == [(date(2026, 11, 1), 30)]
    assert told == round_ + 1, report
    assert pool_writes == 1, report
    pool, _notices = pending_pool(
        organisation=org.organisation, scope=org.company, until=date(2026, 11, 30)
    )
    assert pool.count() == round_ + 1, report
