"""A completed bulk import in the demo: HR (hr1) uploaded this month's attendance and
spot-check file for 机加工车间, and its award notices wait in the pending pool.

It goes through the same services as the pages (upload, confirm, run). Idempotent: the job
is recognised by its file name."""

from __future__ import annotations

from datetime import date, timedelta

from flows.imports import import_job_confirm, import_job_create, import_job_run
from flows.models import ImportJob, ImportStatus
from points.demo.seed import SeedResult
from points.exports import csv_bytes
from points.models import Member, MemberStatus, Organisation
from points.periods import month_start, organisation_today

ORGANISATION = "demo-factory"
FILE_NAME = "机加工车间考勤与抽查（演示）.csv"
#: (rule code, days ago, note): each for the first members of the machining teams.
EVENTS = [
    ("ATD-002", 1, "考勤机记录迟到"),
    ("ATD-004", 2, "考勤机记录旷工一天"),
    ("HYG-003", 1, "5S 抽查：机床周边有油污"),
]


def _days_ago(today: date, days: int) -> date:
    """A day of this month (never last month, which the demo closes)."""
    return max(today - timedelta(days=days), month_start(today))


def seed_imports(result: SeedResult) -> None:
    organisation = Organisation.objects.filter(code=ORGANISATION).first()
    if (
        organisation is None
        or ImportJob.objects.filter(organisation=organisation, file_name=FILE_NAME).exists()
    ):
        return
    hr = Member.objects.filter(organisation=organisation, user__username="hr1").first()
    if hr is None or hr.user is None:
        return
    members = list(
        Member.objects.filter(
            organisation=organisation,
            unit__code__in=["ws2-a", "ws2-b"],
            status=MemberStatus.ACTIVE,
            led_units__isnull=True,
        ).order_by("employee_no")[:6]
    )
    today = organisation_today(organisation)
    rows: list[list[str | date | int | None]] = []
    for index, (code, days, note) in enumerate(EVENTS):
        for member in members[index * 2 : index * 2 + 2]:
            rows.append([member.employee_no, _days_ago(today, days), code, note])
    content = csv_bytes(["工号", "日期", "规则编码", "备注"], rows)
    job = import_job_create(user=hr.user, kind="events", file_name=FILE_NAME, content=content)
    result.count("import jobs", True)
    if job.status != ImportStatus.READY:
        return
    import_job_confirm(job=job, user=hr.user)
    import_job_run(job_id=job.pk)  # the queued task finds it done and does nothing
