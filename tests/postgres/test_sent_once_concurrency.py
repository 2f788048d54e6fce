"""A declaration form sent by several requests at the same moment (a double tap on a slow
connection, the browser resending), each from its own thread and connection, with the
same page's token: exactly one declaration, one process and one review task; every
request answers with a redirect to the same page, none with a 500. Repeated for fresh
pages: a race that wins one time in ten still fails."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from viewflow.workflow.models import Task

from flows.flows import DeclarationFlow
from flows.models import Declaration, IdempotencyKey
from points.models import AuditEvent
from tests.conftest import Org
from tests.factories import idea_rule
from tests.flows.test_declaration_flow import _client
from tests.flows.test_sent_once import DECLARE, _declaration, _token
from tests.postgres.at_once import Answers, Requests, rounds_at_once

pytestmark = pytest.mark.postgres

THREADS = 6
ROUNDS = 10


def _same_form(senders: list[Any], url: str, form: Any) -> Any:
    """Each round every sender posts the same fresh page's form (``form(round)``)."""

    def prepare(round_: int) -> Requests:
        data = form(round_)
        return {name: (url, data) for name, _client in senders}

    return prepare


def _all_sent_where_the_first_went(answers: Answers) -> None:
    assert Counter(status for _name, status, _location in answers) == {302: len(answers)}, answers
    assert len({location for _name, _status, location in answers}) == 1, answers


def test_a_form_sent_at_once_by_several_requests_declares_once() -> None:
    org = Org("once")
    rule = idea_rule(org.organisation)
    page = _client(org.worker_a1)
    senders = [(f"sender {n}", _client(org.worker_a1)) for n in range(THREADS)]

    def form(round_: int) -> dict[str, Any]:
        return _declaration(rule, _token(page.get(DECLARE)), org.worker_a1)

    def check(round_: int, answers: Answers) -> None:
        _all_sent_where_the_first_went(answers)
        assert Declaration.objects.count() == round_ + 1, answers

    rounds_at_once(senders, ROUNDS, _same_form(senders, DECLARE, form), check)
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
    rule = idea_rule(org.organisation)
    page = _client(org.hr)
    senders = [(f"sender {n}", _client(org.hr)) for n in range(THREADS)]
    rounds = 3

    def form(round_: int) -> dict[str, Any]:
        _approved(org, rule, org.worker_a1, org.leader_a1, 30)
        return {
            "sent_once": _token(page.get(SUMMARY_START)),
            "scope": org.company.pk,
            "on": "2026-11-20",
        }

    def check(round_: int, answers: Answers) -> None:
        _all_sent_where_the_first_went(answers)
        assert Summary.objects.count() == round_ + 1, answers
        assert Summary.objects.order_by("pk").last().items.count() == 1  # type: ignore[union-attr]

    rounds_at_once(senders, rounds, _same_form(senders, SUMMARY_START, form), check)
    assert IdempotencyKey.objects.count() == rounds
    assert AuditEvent.objects.filter(action="summary.open").count() == rounds
