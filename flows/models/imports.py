"""Bulk imports (批量导入): an HR upload of attendance or spot-check events, or of attendance
days, kept as a job from preview to the end of its Celery run.

The rows are stored as parsed (JSON) with each row's verdict, so the preview, the
confirmation and the task read the same data; the uploaded file itself is not kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from points.models import Organisation, RuleItem

from .declarations import AwardNotice


class ImportKind(models.TextChoices):
    EVENTS = "events", _("events (attendance and spot checks)")
    ATTENDANCE = "attendance", _("attendance days")


class ImportStatus(models.TextChoices):
    INVALID = "invalid", _("has bad rows")
    READY = "ready", _("ready to confirm")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed: nothing was imported")


class ImportJob(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="+", verbose_name=_("organisation")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ImportKind.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    file_name = models.CharField(_("file"), max_length=200)
    file_sha256 = models.CharField(max_length=64)
    #: One object per data row: ``line`` (the spreadsheet's line number, the header is 1),
    #: the parsed values, and ``error`` (empty for a good row).
    rows = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(_("rows"), default=0)
    error_count = models.PositiveIntegerField(_("bad rows"), default=0)
    #: ``[{"line": n, "reason": "..."}]``: the bad rows, or why a run failed.
    errors = models.JSONField(default=list, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices)
    progress = models.PositiveIntegerField(_("rows done"), default=0)
    notices_created = models.PositiveIntegerField(_("notices created"), default=0)
    items_created = models.PositiveIntegerField(_("rows imported"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="importjob_org")]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=F("row_count")), name="importjob_progress_in_range"
            ),
            models.CheckConstraint(
                condition=Q(error_count=0) | Q(status__in=["invalid", "failed"]),
                name="importjob_bad_rows_never_run",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} #{self.pk}"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.INVALID)


class ImportJobNotice(models.Model):
    """The award notice a job created for one (rule, date) group of its rows. Unique per
    job and group, so a job run twice can never issue a group twice."""

    job = models.ForeignKey(ImportJob, on_delete=models.PROTECT, related_name="notices")
    notice = models.OneToOneField(AwardNotice, on_delete=models.PROTECT, related_name="import_job")
    rule_item = models.ForeignKey(RuleItem, on_delete=models.PROTECT, related_name="+")
    event_date = models.DateField()

    class Meta:
        verbose_name = _("imported notice")
        verbose_name_plural = _("imported notices")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "rule_item", "event_date"], name="importjobnotice_group_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.rule_item_id} {self.event_date}"
