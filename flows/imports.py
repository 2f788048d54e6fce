"""Bulk import (批量导入) of attendance and spot-check events, and of attendance days.

HR uploads a file; every row gets a verdict (``events_check`` / ``attendance_check``) from a
fixed number of bulk reads, whatever the number of rows. A file with any bad row is kept as
an ``invalid`` job that cannot be confirmed. Confirming queues ``import_job_run`` (a Celery
task), which checks the rows again and imports all of them in one transaction, or none:

- events become award notices, one per (rule, date) group, issued in the uploader's name
  through the award-notice flow (``AwardNoticeFlow``), approved on HR's authority and
  placed in the pending pool. The summary, the committee's sign-off, publicity and appeals
  still come before anything reaches the ledger;
- attendance days are written (or replaced) per member and month, for the pro-rating of
  fixed points.

A job runs once: the run locks the job row, does nothing when it is already done, and an
``ImportJobNotice`` per (job, rule, date) is unique in the database.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date
from types import SimpleNamespace
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.imports_checks import (
    CHUNK,
    COLUMNS,
    AttendanceRow,
    EventRow,
    import_rows_check,
)
from flows.imports_read import import_file_read
from flows.models import (
    AwardNotice,
    ImportJob,
    ImportJobNotice,
    ImportKind,
    ImportStatus,
    NoticeItem,
    NoticeStatus,
)
from points.models import Attendance, AuditEvent, Member, Organisation
from points.periods import month_start, organisation_today
from points.roles import Role
from points.selectors.org import member_for_user, user_roles


def progress_key(job_id: int) -> str:
    return f"flows:import-job:{job_id}:progress"


# --- who may import -----------------------------------------------------------------------


def import_hr_member(*, user: Any) -> Member:
    """The user's member when they are HR of an organisation; else PermissionDenied."""
    member = member_for_user(user=user)
    if member is None or Role.HR not in user_roles(user=user):
        raise PermissionDenied(_("Only HR imports files."))
    return member


def import_jobs_visible_to(*, user: Any) -> QuerySet[ImportJob]:
    """The import jobs of the HR user's organisation (none for anyone else)."""
    member = member_for_user(user=user)
    if member is None or Role.HR not in user_roles(user=user):
        return ImportJob.objects.none()
    return ImportJob.objects.filter(organisation=member.organisation)


# --- jobs ---------------------------------------------------------------------------------


@transaction.atomic
def import_job_create(*, user: Any, kind: str, file_name: str, content: bytes) -> ImportJob:
    """Read and check an upload and keep it as a job: ``ready`` to confirm, or ``invalid``
    with every bad row. An unreadable file raises ``ImportFileError`` and keeps nothing."""
    hr = import_hr_member(user=user)
    if kind not in ImportKind.values:
        raise ValidationError(_("Choose what the file holds."))
    rows = import_file_read(content=content, columns=COLUMNS[ImportKind(kind)])
    checked = import_rows_check(kind=kind, organisation=hr.organisation, uploader=user, rows=rows)
    return _job_keep(
        hr=hr,
        user=user,
        kind=kind,
        file_name=file_name,
        sha256=hashlib.sha256(content).hexdigest(),
        checked=checked,
    )


def import_job_from_rows(*, user: Any, kind: str, rows: list[dict[str, Any]]) -> ImportJob:
    """``import_job_create`` for rows that arrive as data (the API) instead of a file; row
    N is line N. The same checks; but any bad row raises a ``ValidationError`` (code
    ``invalid_rows``, one per bad row under ``rows.<index>``) and nothing is kept."""
    hr = import_hr_member(user=user)
    if kind not in ImportKind.values:
        raise ValidationError(_("Choose what the file holds."))
    columns = [column.name for column in COLUMNS[ImportKind(kind)]]
    raw = [
        {"line": index + 1, **{c: str(row.get(c, "") or "") for c in columns}}
        for index, row in enumerate(rows)
    ]
    checked = import_rows_check(kind=kind, organisation=hr.organisation, uploader=user, rows=raw)
    bad = [row for row in checked if not row.ok]
    if bad:
        raise ValidationError(
            {
                f"rows.{row.line - 1}": [
                    ValidationError(
                        _("Line %(line)s: %(reason)s")
                        % {"line": row.line, "reason": "；".join(row.reasons)},
                        code="invalid_rows",
                    )
                ]
                for row in bad
            }
        )
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False).encode()
    return _job_keep(
        hr=hr,
        user=user,
        kind=kind,
        file_name=f"api-{timezone.localtime():%Y%m%d-%H%M%S}.json",
        sha256=hashlib.sha256(canonical).hexdigest(),
        checked=checked,
        via="api",
    )


def _job_keep(
    *,
    hr: Member,
    user: Any,
    kind: str,
    file_name: str,
    sha256: str,
    checked: list[Any],
    via: str = "file",
) -> ImportJob:
    errors = [{"line": row.line, "reason": "；".join(row.reasons)} for row in checked if not row.ok]
    job = ImportJob.objects.create(
        organisation=hr.organisation,
        kind=kind,
        uploaded_by=user,
        file_name=file_name[:200],
        file_sha256=sha256,
        rows=[row.as_json() for row in checked],
        row_count=len(checked),
        error_count=len(errors),
        errors=errors,
        status=ImportStatus.INVALID if errors else ImportStatus.READY,
    )
    AuditEvent.objects.create(
        organisation=hr.organisation,
        actor=user,
        action="import.upload",
        object_repr=str(job)[:200],
        data={
            "job": job.pk,
            "kind": kind,
            "rows": len(checked),
            "bad rows": len(errors),
            "via": via,
        },
    )
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob, user: Any) -> ImportJob:
    """HR confirms a ready job; the import runs in a Celery task after commit."""
    hr = import_hr_member(user=user)
    job = ImportJob.objects.select_for_update().get(pk=job.pk, organisation=hr.organisation)
    if job.status != ImportStatus.READY:
        raise ValidationError(_("Only a file without bad rows can be imported, and only once."))
    job.status = ImportStatus.QUEUED
    job.confirmed_at = timezone.now()
    job.save(update_fields=["status", "confirmed_at"])
    AuditEvent.objects.create(
        organisation=job.organisation,
        actor=user,
        action="import.confirm",
        object_repr=str(job)[:200],
        data={"job": job.pk},
    )
    from flows.tasks import import_job_run

    job_id = job.pk
    # Robust: a task that fails (eagerly, in the embedded set-up) marks the job failed and
    # is logged; it does not turn the confirmation into an error page.
    transaction.on_commit(lambda: import_job_run.delay(job_id), robust=True)
    return job


def import_job_progress(*, job: ImportJob) -> dict[str, Any]:
    """What the progress bar shows: the rows done (live while the task runs)."""
    done = job.progress
    if job.status == ImportStatus.RUNNING:
        done = max(done, int(cache.get(progress_key(job.pk)) or 0))
    return {
        "status": job.status,
        "status_label": str(ImportStatus(job.status).label),
        "done": min(done, job.row_count),
        "total": job.row_count,
        "percent": round(100 * min(done, job.row_count) / job.row_count) if job.row_count else 100,
        "notices": job.notices_created,
        "imported": job.items_created,
        "finished": job.finished,
    }


class _RowsChanged(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def import_job_run(*, job_id: int) -> ImportJob:
    """Import a confirmed job: all its rows or none. Safe to run twice or after a crash."""
    with transaction.atomic():
        started = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
            status=ImportStatus.RUNNING
        )
    if started:
        cache.set(progress_key(job_id), 0, timeout=3600)
    try:
        with transaction.atomic():
            job = (
                ImportJob.objects.select_for_update(of=("self",))
                .select_related("organisation", "uploaded_by")
                .get(pk=job_id)
            )
            if job.status != ImportStatus.RUNNING:
                return job  # done, failed, or never confirmed: nothing to do
            # One import at a time per organisation, so two files cannot both pass the
            # duplicate and cap checks with the same rows.
            Organisation.objects.select_for_update().filter(pk=job.organisation_id).first()
            if job.kind == ImportKind.EVENTS:
                _run_events(job)
            else:
                _run_attendance(job)
            job.status = ImportStatus.DONE
            job.progress = job.row_count
            job.finished_at = timezone.now()
            job.save()
            AuditEvent.objects.create(
                organisation=job.organisation,
                actor=job.uploaded_by,
                action=f"import.{job.kind}",
                object_repr=str(job)[:200],
                data={
                    "job": job.pk,
                    "rows": job.row_count,
                    "notices": job.notices_created,
                    "imported": job.items_created,
                },
            )
            return job
    except _RowsChanged as changed:
        return _fail(job_id, changed.errors)
    except OSError:
        _requeue(job_id)  # transient (the database or the cache went away): the task retries
        raise
    except Exception:
        _fail(job_id, [{"line": 0, "reason": _("The import failed; nothing was imported.")}])
        raise
    finally:
        cache.delete(progress_key(job_id))


def _requeue(job_id: int) -> None:
    with transaction.atomic():
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
            status=ImportStatus.QUEUED
        )


def _fail(job_id: int, errors: list[dict[str, Any]]) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status == ImportStatus.RUNNING:
            job.status = ImportStatus.FAILED
            job.errors = errors
            job.error_count = len(errors)
            job.progress = 0
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "errors", "error_count", "progress", "finished_at"])
        return job


def _recheck(job: ImportJob) -> list[Any]:
    """The rows checked again inside the import's transaction: what changed since the
    preview (a posting, another import, a closed month) fails the job, importing nothing."""
    columns = [c.name for c in COLUMNS[ImportKind(job.kind)]]
    raw = [{"line": r["line"], **{c: r.get(c, "") for c in columns}} for r in job.rows]
    checked = import_rows_check(
        kind=job.kind, organisation=job.organisation, uploader=job.uploaded_by, rows=raw
    )
    if Role.HR not in user_roles(user=job.uploaded_by):
        raise _RowsChanged([{"line": 0, "reason": _("Only HR imports files.")}])
    errors = [{"line": row.line, "reason": "；".join(row.reasons)} for row in checked if not row.ok]
    if errors:
        raise _RowsChanged(errors)
    return checked


def _run_events(job: ImportJob) -> None:
    from flows.flows import AwardNoticeFlow
    from flows.notifications import notify

    rows: list[EventRow] = _recheck(job)
    issuer = member_for_user(user=job.uploaded_by)
    assert issuer is not None
    groups: dict[tuple[int, date], list[EventRow]] = defaultdict(list)
    for row in rows:
        assert row.rule and row.day
        groups[(row.rule.pk, row.day)].append(row)
    pool = month_start(organisation_today(job.organisation))
    done = 0
    for (rule_id, day), members in groups.items():
        activation = AwardNoticeFlow.start.activation_class.create(
            AwardNoticeFlow.start, None, None
        )
        activation.start(SimpleNamespace(user=job.uploaded_by))
        activation.process.save()
        notice = AwardNotice.objects.create(
            organisation=job.organisation,
            issuer=issuer,
            status=NoticeStatus.APPROVED,
            decision_reason=_("Imported from %(file)s") % {"file": job.file_name[:100]},
            process=activation.process,
        )
        ImportJobNotice.objects.create(job=job, notice=notice, rule_item_id=rule_id, event_date=day)
        NoticeItem.objects.bulk_create([_notice_item(job, notice, row, pool) for row in members])
        activation.execute()
        done += len(members)
        cache.set(progress_key(job.pk), done, timeout=3600)
    job.notices_created = len(groups)
    job.items_created = len(rows)
    # One message per member, not per row.
    per_member: dict[int, list[EventRow]] = defaultdict(list)
    for row in rows:
        assert row.member
        per_member[row.member.pk].append(row)
    for items in per_member.values():
        member = items[0].member
        assert member is not None
        if member.user_id is None:
            continue
        total = sum(row.amount for row in items)
        notify(
            user=member.user,
            subject=_("Points notice"),
            body=_("%(count)s items were recorded for you from %(file)s: %(total)s points.")
            % {"count": len(items), "file": job.file_name[:100], "total": total},
        )


def _notice_item(job: ImportJob, notice: AwardNotice, row: EventRow, pool: date) -> NoticeItem:
    assert row.member and row.rule and row.day and row.points is not None
    return NoticeItem(
        notice=notice,
        member=row.member,
        rule_item=row.rule,
        quantity=1,
        points=row.points,
        event_date=row.day,
        description=row.values.get("note")
        or _("Imported from %(file)s, line %(line)s")
        % {"file": job.file_name[:100], "line": row.line},
        pool_month=pool,
    )


def _run_attendance(job: ImportJob) -> None:
    rows: list[AttendanceRow] = _recheck(job)
    objects = []
    for row in rows:
        assert row.member and row.month
        assert row.days_present is not None and row.days_required is not None
        objects.append(
            Attendance(
                member=row.member,
                month=row.month,
                days_present=row.days_present,
                days_required=row.days_required,
            )
        )
    for start in range(0, len(objects), CHUNK):
        Attendance.objects.bulk_create(
            objects[start : start + CHUNK],
            update_conflicts=True,
            unique_fields=["member", "month"],
            update_fields=["days_present", "days_required"],
        )
        cache.set(progress_key(job.pk), start + CHUNK, timeout=3600)
    job.items_created = len(objects)
