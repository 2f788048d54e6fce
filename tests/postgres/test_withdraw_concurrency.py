"""The member withdraws a declaration at the moment the reviewer approves it, each from its
own thread and connection, round after round: one of them wins, the other is refused with
its page (not a 500), nothing deadlocks, and the declaration ends either approved (its
item in the pending pool) or withdrawn (its task and process cancelled, nothing pooled)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.test import Client
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.flows import DeclarationFlow
from flows.models import Declaration, DeclarationStatus
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client, _declare, _task_url

pytestmark = pytest.mark.postgres

ROUNDS = 12
#: How long the approval waits after the go, by round: at once, in the race's window, and
#: late enough that the withdrawal comes first, so both orders are seen.
DELAYS = (0.0, 0.01, 0.02, 0.3)


def test_a_withdrawal_and_an_approval_at_once_end_one_way() -> None:
    org = Org("wd")
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )
    member, leader = _client(org.worker_a1), _client(org.leader_a1)
    go = threading.Barrier(3, timeout=60)
    done = threading.Barrier(3, timeout=60)
    urls = {"withdraw": "", "approve": ""}
    answers: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def act(name: str, client: Client, data: dict[str, str]) -> None:
        try:
            for round_ in range(ROUNDS):
                go.wait()
                if name == "approve":
                    time.sleep(DELAYS[round_ % len(DELAYS)])
                try:
                    answers.append((name, client.post(urls[name], data).status_code))
                except BaseException as error:  # a 500 raises here
                    errors.append(error)
                done.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=("withdraw", member, {"confirm": "1"}), daemon=True),
        threading.Thread(
            target=act, args=("approve", leader, {"action": "approve", "reason": ""}), daemon=True
        ),
    ]
    connection.close()
    for thread in threads:
        thread.start()
    outcomes: Counter[str] = Counter()
    try:
        for round_ in range(ROUNDS):
            assert _declare(org.worker_a1, rule, points=20, client=member).status_code == 302
            declaration = Declaration.objects.latest("pk")
            task = Task.objects.get(process=declaration.process, flow_task=DeclarationFlow.review)
            urls["withdraw"] = f"/declarations/declaration/withdraw/{declaration.pk}/"
            urls["approve"] = _task_url(task)
            go.wait()
            done.wait()
            report = f"round {round_}: {answers[-2:]}, {[repr(e)[:300] for e in errors][:2]}"
            assert errors == [], report
            declaration.refresh_from_db()
            task.refresh_from_db()
            item = declaration.items.get()
            outcomes[declaration.status] += 1
            if declaration.status == DeclarationStatus.APPROVED:
                assert task.status == STATUS.DONE and item.pool_month is not None, report
            else:
                assert declaration.status == DeclarationStatus.WITHDRAWN, report
                assert task.status == STATUS.CANCELED and item.pool_month is None, report
                assert declaration.process.status == PROCESS.CANCELED, report
    finally:
        go.abort()
        done.abort()
        for thread in threads:
            thread.join(timeout=60)
        connection.close()
    assert not any(thread.is_alive() for thread in threads)
    assert sum(outcomes.values()) == ROUNDS, outcomes
    assert outcomes[DeclarationStatus.WITHDRAWN] and outcomes[DeclarationStatus.APPROVED], outcomes
    refused = {name: status for name, status in answers if status != 302}
    assert set(refused.values()) <= {403}, answers  # the approval of a withdrawn one
