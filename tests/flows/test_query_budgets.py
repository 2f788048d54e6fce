"""The inbox, the queue and the declaration list cost the same number of queries whatever
the number of rows."""

from __future__ import annotations

import pytest

from tests.conftest import Org, queries_of
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _client, _declare

pytestmark = pytest.mark.django_db
PAGES = {
    "list": "/declarations/declaration/",
    "inbox": "/declarations/declaration/inbox/",
    "queue": "/declarations/declaration/queue/",
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_query_count_does_not_grow_with_rows(org: Org, page: str) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10
    )
    client = _client(org.leader_a1)
    _declare(org.worker_a1, rule)
    few = queries_of(client, PAGES[page])
    for _ in range(6):
        _declare(org.worker_a1, rule)
    assert queries_of(client, PAGES[page]) <= few
    assert few <= 25


def test_viewflow_pages_are_in_chinese(org: Org) -> None:
    html = _client(org.leader_a1).get(PAGES["inbox"]).content.decode()
    assert "待办" in html and ">Inbox<" not in html
