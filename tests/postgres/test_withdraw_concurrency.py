"""The member withdraws a declaration at the moment the reviewer approves it, each from its
own thread and connection, round after round: one of them wins, the other is told so on
its page (not a 403 or a 500), nothing deadlocks, and the declaration ends either approved (its
item in the pending pool) or withdrawn (its task and process cancelled, nothing pooled)."""

from __future__ import annotations

from collections import Counter

import pytest
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from flows.flows import DeclarationFlow
from flows.models import Declaration, DeclarationStatus
from tests.conftest import Org
from tests.factories import idea_rule
from tests.flows.test_declaration_flow import _client, _declare, _task_url
from tests.postgres.at_once import Answers, Requests, rounds_at_once

pytestmark = pytest.mark.postgres

ROUNDS = 12
#: How long (the approval, the withdrawal) wait after the go, by round: the withdrawal late
#: enough that the approval comes first, both at once, the approval in the race's window,
#: and late enough that the withdrawal comes first, so both orders are seen. (At once, the
#: withdrawal, which asks less before it locks the task, wins.)
DELAYS = ((0.0, 0.3), (0.0, 0.0), (0.01, 0.0), (0.02, 0.0), (0.3, 0.0))


def test_a_withdrawal_and_an_approval_at_once_end_one_way() -> None:
    org = Org("wd")
    rule = idea_rule(org.organisation)
    member, leader = _client(org.worker_a1), _client(org.leader_a1)
    outcomes: Counter[str] = Counter()
    refusals: Counter[int] = Counter()

    def prepare(round_: int) -> Requests:
        assert _declare(org.worker_a1, rule, points=20, client=member).status_code == 302
        declaration = Declaration.objects.latest("pk")
        task = Task.objects.get(process=declaration.process, flow_task=DeclarationFlow.review)
        return {
            "withdraw": (f"/declarations/declaration/withdraw/{declaration.pk}/", {"confirm": "1"}),
            "approve": (_task_url(task), {"action": "approve", "reason": ""}),
        }

    def check(round_: int, answers: Answers) -> None:
        declaration = Declaration.objects.latest("pk")
        task = Task.objects.get(process=declaration.process, flow_task=DeclarationFlow.review)
        item = declaration.items.get()
        outcomes[declaration.status] += 1
        refusals.update(status for _name, status, _location in answers if status != 302)
        if declaration.status == DeclarationStatus.APPROVED:
            assert task.status == STATUS.DONE and item.pool_month is not None, answers
        else:
            assert declaration.status == DeclarationStatus.WITHDRAWN, answers
            assert task.status == STATUS.CANCELED and item.pool_month is None, answers
            assert declaration.process.status == PROCESS.CANCELED, answers

    def delay(name: str, round_: int) -> float:
        approve, withdraw = DELAYS[round_ % len(DELAYS)]
        return approve if name == "approve" else withdraw

    rounds_at_once([("withdraw", member), ("approve", leader)], ROUNDS, prepare, check, delay)
    assert outcomes[DeclarationStatus.WITHDRAWN] and outcomes[DeclarationStatus.APPROVED], outcomes
    assert not refusals, refusals  # the approval of a withdrawn one is sent to its page
