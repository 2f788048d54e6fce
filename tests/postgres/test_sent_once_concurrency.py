"""A declaration form sent by several requests at the same moment (a double tap on a slow
connection, the browser resending), each from its own thread and connection, with the
same page's token: exactly one declaration, one process and one review task; every
request answers with a redirect to the same page, none with a 500. Repeated for fresh
pages: a race that wins one time in ten still fails."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from viewflow.workflow.models import Task

from flows.flows import DeclarationFlow
from flows.models import Declaration, IdempotencyKey
from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client
from tests.flows.test_sent_once import DECLARE, _declaration, _token

pytestmark = pytest.mark.postgres

THREADS = 6
ROUNDS = 10


def _send_at_once(
    senders: list[Any], url: str, next_data: Any, after_round: Any, rounds: int = ROUNDS
) -> None:
    """Each round: ``next_data(round)`` draws a fresh page's form (in this thread), every
    sender posts it at the same moment (each from its own thread and connection), and
    ``after_round(round, answers)`` checks what happened."""
    connection.close()  # the threads open their own connections
    go = threading.Barrier(len(senders) + 1, timeout=120)
    done = threading.Barrier(len(senders) + 1, timeout=120)
    data: list[dict[str, Any]] = [{}]
    answers: list[list[tuple[int, str]]] = [[] for _ in range(rounds)]
    errors: list[BaseException] = []

    def send(client: Any) -> None:
        try:
            for round_ in range(rounds):
                go.wait()
                try:
                    response = client.post(url, data[0])
                    answers[round_].append((response.status_code, response.get("Location", "")))
                except BaseException as error:  # a 500 raises here (the client re-raises)
                    errors.append(error)
                done.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,), daemon=True) for c in senders]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(rounds):
            data[0] = next_data(round_)
            go.wait()
            done.wait()
            assert not errors, errors[:3]
            statuses = Counter(status for status, _location in answers[round_])
            assert statuses == {302: len(senders)}, answers[round_]
            assert len({location for _status, location in answers[round_]}) == 1
            after_round(round_, answers[round_])
    finally:
        go.abort()
        done.abort()
        for thread in threads:
            thread.join(timeout=60)
        connection.close()
    assert not any(thread.is_alive() for thread in threads)


def test_a_form_sent_at_once_by_several_requests_declares_once() -> None:
    org = Org("once")
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )
    page = _client(org.worker_a1)
    senders = [_client(org.worker_a1) for _ in range(THREADS)]

    def next_data(round_: int) -> dict[str, Any]:
        return _declaration(rule, _token(page.get(DECLARE)), org.worker_a1)

    def after_round(round_: int, answers: list[tuple[int, str]]) -> None:
        assert Declaration.objects.count() == round_ + 1, answers

    _send_at_once(senders, DECLARE, next_data, after_round)
    assert IdempotencyKey.objects.count() == ROUNDS
    assert AuditEvent.objects.filter(action="declaration.submit").count() == ROUNDS
    processes = DeclarationFlow.process_class.objects.filter(flow_class=DeclarationFlow)
    assert processes.count() == ROUNDS
    assert Task.objects.filter(flow_task=DeclarationFlow.review).count() == ROUNDS


def test_a_summary_sent_at_once_by_several_requests_gathers_once() -> None:
    """HR's taps at the same moment open one summary of the new items each round, and every
    tap is answered with its page, not "the pool is empty" or "try again"."""
    from flows.models import Summary
    from tests.flows.test_publicity import SUMMARY_START, _approved

    org = Org("once-summary")
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )
    page = _client(org.hr)
    senders = [_client(org.hr) for _ in range(THREADS)]
    rounds = 3

    def next_data(round_: int) -> dict[str, Any]:
        _approved(org, rule, org.worker_a1, org.leader_a1, 30)
        return {
            "sent_once": _token(page.get(SUMMARY_START)),
            "scope": org.company.pk,
            "on": "2026-11-20",
        }

    def after_round(round_: int, answers: list[tuple[int, str]]) -> None:
        assert Summary.objects.count() == round_ + 1, answers
        assert Summary.objects.order_by("pk").last().items.count() == 1  # type: ignore[union-attr]

    _send_at_once(senders, SUMMARY_START, next_data, after_round, rounds=rounds)
    assert IdempotencyKey.objects.count() == rounds
    assert AuditEvent.objects.filter(action="summary.open").count() == rounds
