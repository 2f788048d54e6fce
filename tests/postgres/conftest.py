"""Tests that need PostgreSQL and real transactions (SQLite and TestCase hide missing locks).
``make test`` runs them in its PostgreSQL pass; on SQLite they are skipped with a reason."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _postgres_only(transactional_db: object) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: make test runs this in its PostgreSQL pass")
