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
    connection.close()  # the threads open their own connections

    go = threading.Barrier(THREADS + 1, timeout=120)
    done = threading.Barrier(THREADS + 1, timeout=120)
    data: list[dict[str, Any]] = [{}]
    answers: list[list[tuple[int, str]]] = [[] for _ in range(ROUNDS)]
    errors: list[BaseException] = []

    def send(client: Any) -> None:
        try:
            for round_ in range(ROUNDS):
                go.wait()
                try:
                    response = client.post(DECLARE, data[0])
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
        for round_ in range(ROUNDS):
            data[0] = _declaration(rule, _token(page.get(DECLARE)), org.worker_a1)
            go.wait()
            done.wait()
            assert not errors, errors[:3]
            statuses = Counter(status for status, _location in answers[round_])
            assert statuses == {302: THREADS}, answers[round_]
            assert len({location for _status, location in answers[round_]}) == 1
            assert Declaration.objects.count() == round_ + 1, answers[round_]
    finally:
        go.abort()
        done.abort()
        for thread in threads:
            thread.join(timeout=60)
        connection.close()
    assert not any(thread.is_alive() for thread in threads)
    assert IdempotencyKey.objects.count() == ROUNDS
    assert AuditEvent.objects.filter(action="declaration.submit").count() == ROUNDS
    processes = DeclarationFlow.process_class.objects.filter(flow_class=DeclarationFlow)
    assert processes.count() == ROUNDS
    assert Task.objects.filter(flow_task=DeclarationFlow.review).count() == ROUNDS
