"""``.ci/backup`` on PostgreSQL: ``pg_dump -Fc`` of a database with ledger entries, restored
by ``pg_restore`` into a fresh database on the same server, passes ``points_verify`` and holds
the same entries and totals."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection

from points.models import Account, LedgerEntry
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def _url(name: str) -> str:
    settings = connection.settings_dict
    auth = settings["USER"] or "postgres"
    if settings["PASSWORD"]:
        auth += f":{settings['PASSWORD']}"
    return f"postgres://{auth}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{name}"


def _backup(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(ROOT / ".ci" / "backup"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _rows(url: str, sql: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


def test_pg_dump_restored_into_a_fresh_database_passes_points_verify(tmp_path: Path) -> None:
    org = Org("bkp")
    items = [
        PostingItem(
            member_id=member.pk,
            idempotency_key=f"backup-test:{member.pk}:{n}",
            effective_date=date(2026, 11, 10 + n),
            amount=10 * (n + 1),
        )
        for member in (org.worker_a1, org.worker_b, org.leader_a1)
        for n in range(3)
    ]
    ledger_post_batch(organisation=org.organisation, items=items, today=date(2026, 11, 20))
    entries = LedgerEntry.objects.count()
    totals = sorted(Account.objects.values_list("member_id", "lifetime_total"))
    assert entries >= len(items)

    live = _url(connection.settings_dict["NAME"])
    dump = tmp_path / "points.dump"
    result = _backup("dump", "--out", str(dump), database_url=live)
    assert result.returncode == 0, result.stdout + result.stderr
    assert dump.read_bytes()[:5] == b"PGDMP"

    restored = f"restored_{uuid.uuid4().hex[:12]}"
    try:
        result = _backup("restore", str(dump), "--db", restored, database_url=live)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ledger verified" in result.stdout
        copy = _url(restored)
        assert _rows(copy, "select count(*) from points_ledgerentry") == [(entries,)]
        assert sorted(_rows(copy, "select member_id, lifetime_total from points_account")) == [
            tuple(row) for row in totals
        ]
        # A restore never overwrites a database: the same name again is refused.
        again = _backup("restore", str(dump), "--db", restored, database_url=live)
        assert again.returncode != 0
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')
