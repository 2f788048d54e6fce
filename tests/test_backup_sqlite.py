"""``.ci/backup`` on SQLite: the online backup API takes a consistent copy of a database that
is being written to, and a restore of it passes ``points_verify`` with every entry."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.sqlite3._functions import register

from points.models import LedgerEntry
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org

ROOT = Path(__file__).resolve().parents[1]


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


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite only: the PostgreSQL pass runs tests/postgres/test_backup_restore.py",
)
@pytest.mark.django_db(transaction=True)
def test_sqlite_online_backup_while_writing_restores_and_verifies(tmp_path: Path) -> None:
    org = Org("bks")
    items = [
        PostingItem(
            member_id=member.pk,
            idempotency_key=f"backup-test:{member.pk}:{n}",
            effective_date=date(2026, 11, 10 + n),
            amount=5 * (n + 1),
        )
        for member in (org.worker_a1, org.worker_b)
        for n in range(3)
    ]
    ledger_post_batch(organisation=org.organisation, items=items, today=date(2026, 11, 20))
    entries = LedgerEntry.objects.count()

    # The test database lives in memory: put it in a file, as the embedded db.sqlite3.
    live = tmp_path / "live.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(live) as target:
        connection.connection.backup(target)
    target.close()

    # Another process keeps writing to the live file while the backup is taken.
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        db = sqlite3.connect(live, timeout=30)
        db.execute("create table scratch (n integer)")
        n = 0
        while not stop.is_set() and n < 100_000:
            with db:
                db.execute("insert into scratch values (?)", (n,))
            n += 1
        written.append(n)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        backup = tmp_path / "backup.sqlite3"
        result = _backup("dump", "--out", str(backup), database_url=f"sqlite:///{live}")
    finally:
        stop.set()
        thread.join(timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert written and written[0] > 0

    restored = tmp_path / "restored.sqlite3"
    result = _backup("restore", str(backup), "--to", str(restored), database_url="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ledger verified" in result.stdout
    with sqlite3.connect(restored) as db:
        register(db)  # Django's SQL functions, which its expression indexes call
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("select count(*) from points_ledgerentry").fetchone() == (entries,)
    db.close()
    # A restore never overwrites: the same target again is refused.
    again = _backup("restore", str(backup), "--to", str(restored), database_url="")
    assert again.returncode != 0
