"""The inbox, the queue and the declaration list ("my declarations", the member's and the
reviewer's) cost the same number of queries whatever the number of rows.

A declaration's review is assigned to its reviewer, never queued, so the declaration queue
is measured empty here; the queue with rows is HR's redemption queue
(``tests/flows/test_redemption.py::test_the_queue_says_what_each_request_is_in_the_same_queries``)
and the re-examination and ruling queues (``tests/flows/test_publicity_queries.py``)."""

from __future__ import annotations

import re
from typing import Any

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


def _rows(html: str) -> int:
    """The declarations a page links to (a row each)."""
    return len(set(re.findall(r"/declarations/declaration/(\d+)/", html)))


@pytest.mark.parametrize(
    ("page", "who"),
    [("list", "worker_a1"), ("list", "leader_a1"), ("inbox", "leader_a1"), ("queue", "leader_a1")],
)
def test_query_count_does_not_grow_with_rows(
    org: Org, page: str, who: str, django_assert_max_num_queries: Any
) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10
    )
    client = _client(getattr(org, who))
    _declare(org.worker_a1, rule)
    few = queries_of(client, PAGES[page])
    assert few <= 25
    for _ in range(6):
        _declare(org.worker_a1, rule)
    with django_assert_max_num_queries(few):
        response = client.get(PAGES[page])
    assert response.status_code == 200
    assert _rows(response.content.decode()) == (0 if page == "queue" else 7)


def test_viewflow_pages_are_in_chinese(org: Org) -> None:
    html = _client(org.leader_a1).get(PAGES["inbox"]).content.decode()
    assert "待办" in html and ">Inbox<" not in html
