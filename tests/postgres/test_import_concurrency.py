"""Two HR officers upload the same attendance file and both confirm it; the two import jobs
run at the same moment on two connections. Exactly one imports the rows; the other finds
them already pending (duplicates) and imports nothing. Without the per-organisation lock
in ``import_job_run`` both jobs pass the duplicate check and every row is noticed twice."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from django.db import connection

from flows.imports import import_job_create, import_job_run
from flows.models import AwardNotice, ImportJob, ImportStatus, NoticeItem
from points.roles import Role
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.postgres


def _file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["工号", "日期", "规则编码", "备注"])
    writer.writerows(rows)
    return out.getvalue().encode()


def test_two_imports_of_the_same_rows_at_once_import_them_once() -> None:
    org = Org("imp")
    hr2 = org.member(org.company, "imp-hr2", role=Role.HR)
    RuleItemFactory(
        organisation=org.organisation,
        code="ATD-002",
        name="迟到",
        kind="deduction",
        category="attendance",
        points_min=5,
        points_max=5,
    )
    rows = [
        [member.employee_no, f"2026-11-{day:02d}", "ATD-002", "抽查"]
        for member in (org.worker_a1, org.leader_a1, org.worker_b)
        for day in range(2, 12)
    ]
    jobs = [
        import_job_create(user=hr.user, kind="events", file_name="考勤.csv", content=_file(rows))
        for hr in (org.hr, hr2)
    ]
    assert [job.status for job in jobs] == [ImportStatus.READY] * 2  # both previews are clean
    # Both confirmed; their tasks have not run yet.
    ImportJob.objects.filter(pk__in=[job.pk for job in jobs]).update(status=ImportStatus.QUEUED)
    connection.close()  # each thread opens its own connection

    barrier = threading.Barrier(len(jobs), timeout=60)
    errors: list[BaseException] = []

    def run(job_id: int) -> None:
        try:
            barrier.wait()
            import_job_run(job_id=job_id)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job.pk,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an import is stuck"
    assert errors == []
    finished = sorted(ImportJob.objects.all(), key=lambda job: job.status)
    assert [job.status for job in finished] == [ImportStatus.DONE, ImportStatus.FAILED]
    done, failed = finished
    assert done.items_created == len(rows) and failed.items_created == 0
    assert len(failed.errors) == len(rows)  # every row named, with its line
    assert {error["line"] for error in failed.errors} == set(range(2, len(rows) + 2))
    assert NoticeItem.objects.count() == len(rows)
    assert AwardNotice.objects.count() == 10  # one per rule and day, from one job only
