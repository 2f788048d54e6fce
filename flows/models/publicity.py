"""Summary (汇总), committee sign-off (签发), publicity (公示) and appeals (申诉).

HR gathers a period's approved items into a summary; the committee signs it off; it is
published for a window of N days in which anyone in scope may appeal an item; when the
window closes the unchallenged items are posted to the ledger, and ruled items as ruled.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from points.models import LedgerEntry, Member, Organisation, OrgUnit, RuleItem, SummaryPeriod

from .declarations import DeclarationItem, NoticeItem


class SummaryStatus(models.TextChoices):
    DRAFT = "draft", _("being prepared by HR")
    SIGNOFF = "signoff", _("waiting for committee sign-off")
    PUBLICITY = "publicity", _("in its publicity window")
    POSTED = "posted", _("posted to the ledger")


class Summary(models.Model):
    """One period's approved items for one org subtree, from gathering to posting."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    scope = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("scope")
    )
    period_kind = models.CharField(
        _("period"), max_length=10, choices=SummaryPeriod.choices, default=SummaryPeriod.MONTH
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(
        _("status"), max_length=20, choices=SummaryStatus.choices, default=SummaryStatus.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("HR")
    )
    #: Each submission for sign-off is a round; a rejection sends it back for the next.
    round = models.PositiveSmallIntegerField(_("sign-off round"), default=0)
    rejection_reasons = models.TextField(_("reasons the committee gave"), blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    window_ends_at = models.DateTimeField(_("publicity window ends"), null=True, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="summary",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("summary")
        verbose_name_plural = _("summaries")
        ordering = ["-period_start", "-id"]
        indexes = [models.Index(fields=["status", "window_ends_at"], name="summary_window")]

    def __str__(self) -> str:
        return f"{self.scope.name} {self.period_start:%Y-%m-%d}–{self.period_end:%Y-%m-%d}"


class ItemStatus(models.TextChoices):
    INCLUDED = "included", _("included")
    EXCLUDED = "excluded", _("excluded by HR")
    HELD = "held", _("held: under appeal")
    RULED = "ruled", _("ruled, waiting to be posted")
    POSTED = "posted", _("posted")
    CANCELLED = "cancelled", _("cancelled by ruling")
    REFUSED = "refused", _("refused by the ledger")


class SummaryItem(models.Model):
    """An approved declaration or notice item as gathered into a summary. The points are
    copied so that what was published is what is posted (unless a ruling changes it)."""

    summary = models.ForeignKey(Summary, on_delete=models.CASCADE, related_name="items")
    declaration_item = models.ForeignKey(
        DeclarationItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notice_item = models.ForeignKey(
        NoticeItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="+", verbose_name=_("member")
    )
    rule_item = models.ForeignKey(
        RuleItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule item")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    points = models.PositiveIntegerField(_("points per unit"))
    amount = models.IntegerField(_("points"))
    event_date = models.DateField(_("date of the event"))
    description = models.TextField(_("description"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    flags = models.JSONField(_("anomalies"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ItemStatus.choices, default=ItemStatus.INCLUDED
    )
    excluded_reason = models.CharField(_("reason for the exclusion"), max_length=500, blank=True)
    refused_reason = models.CharField(_("why the ledger refused it"), max_length=500, blank=True)
    ledger_entry = models.ForeignKey(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("summary item")
        verbose_name_plural = _("summary items")
        ordering = ["member__name", "event_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(declaration_item__isnull=True) ^ Q(notice_item__isnull=True),
                name="summaryitem_one_source",
            ),
            # An approved item is gathered into one live summary only: never counted twice.
            models.UniqueConstraint(
                fields=["declaration_item"],
                condition=~Q(status="excluded"),
                name="summaryitem_declaration_item_once",
            ),
            models.UniqueConstraint(
                fields=["notice_item"],
                condition=~Q(status="excluded"),
                name="summaryitem_notice_item_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member.name} {self.rule_item.name} {self.amount:+d}"

    @property
    def source(self) -> DeclarationItem | NoticeItem:
        source = self.declaration_item or self.notice_item
        assert source is not None
        return source


class SignOff(models.Model):
    """One committee member's vote on one round of a summary."""

    summary = models.ForeignKey(Summary, on_delete=models.CASCADE, related_name="signoffs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField()
    approve = models.BooleanField(_("approve"))
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sign-off")
        verbose_name_plural = _("sign-offs")
        ordering = ["round", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["summary", "user", "round"], name="signoff_once"),
        ]

    def __str__(self) -> str:
        return f"{self.summary_id}/{self.round} {self.user_id} {self.approve}"


class AppealStatus(models.TextChoices):
    REEXAMINATION = "reexamination", _("being re-examined by HR")
    RULING = "ruling", _("waiting for the committee's ruling")
    RULED = "ruled", _("ruled")


class Ruling(models.TextChoices):
    UPHOLD = "uphold", _("uphold the item")
    AMEND = "amend", _("amend the points")
    CANCEL = "cancel", _("cancel the item")
    FALSE_DECLARATION = "false_declaration", _("cancel as a false declaration")


class Appeal(models.Model):
    """An objection to one published item: HR re-examines, the committee rules."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(
        SummaryItem, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("item")
    )
    appellant = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("appellant")
    )
    reason = models.TextField(_("reason"), max_length=2000)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=AppealStatus.choices,
        default=AppealStatus.REEXAMINATION,
    )
    hr_due = models.DateTimeField(_("HR re-examination due"))
    committee_due = models.DateTimeField(_("ruling due"), null=True, blank=True)
    hr_reminded_at = models.DateTimeField(null=True, blank=True)
    committee_reminded_at = models.DateTimeField(null=True, blank=True)
    findings = models.TextField(_("re-examination findings"), max_length=2000, blank=True)
    reexamined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reexamined_at = models.DateTimeField(null=True, blank=True)
    ruling = models.CharField(_("ruling"), max_length=20, choices=Ruling.choices, blank=True)
    ruled_points = models.PositiveIntegerField(_("ruled points per unit"), null=True, blank=True)
    ruling_reason = models.TextField(_("reasons for the ruling"), max_length=2000, blank=True)
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ruled_at = models.DateTimeField(null=True, blank=True)
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appeal",
    )
    created_at = models.DateTimeField(_("lodged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.appellant.name} → {self.item}"
