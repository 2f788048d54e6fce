"""Every human task of every flow is a ``LockedView``: its page takes the task's row lock
before the record's, the order the API and the services take (``flows.tasklock``; the
PostgreSQL tests of concurrent approvals and withdrawals show the deadlock otherwise)."""

from __future__ import annotations

from viewflow.workflow import flow

from flows.flows import AppealFlow, AwardNoticeFlow, DeclarationFlow, RedemptionFlow, SummaryFlow
from flows.tasklock import LockedView


def test_every_human_task_page_locks_the_task_row_first() -> None:
    views = [
        node
        for flow_class in (
            DeclarationFlow,
            AwardNoticeFlow,
            SummaryFlow,
            AppealFlow,
            RedemptionFlow,
        )
        for node in flow_class.instance.nodes()
        if isinstance(node, flow.View)
    ]
    assert len(views) == 8
    assert [node.name for node in views if not isinstance(node, LockedView)] == []
