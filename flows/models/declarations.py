"""Declarations (申报): a member's claim, item by item, with evidence.

The records a declaration flow works on. The flow itself (review, tiers, escalation) is
built on these; approved items wait in the pending pool for the HR summary and reach the
ledger only after publicity.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from points.models import Member, Organisation, RuleItem


class DeclarationStatus(models.TextChoices):
    SUBMITTED = "submitted", _("waiting for review")
    RETURNED = "returned", _("returned for revision")
    ESCALATED = "escalated", _("escalated")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


#: Not decided yet: the member (or whoever declared for them) may still withdraw it.
DECLARATION_UNDECIDED = (
    DeclarationStatus.SUBMITTED,
    DeclarationStatus.ESCALATED,
    DeclarationStatus.RETURNED,
)


class Declaration(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="declarations", verbose_name=_("member")
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("submitted by"),
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=DeclarationStatus.choices,
        default=DeclarationStatus.SUBMITTED,
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="declaration",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("declaration")
        verbose_name_plural = _("declarations")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="declaration_member")]

    def __str__(self) -> str:
        return f"{self.member.name} #{self.pk}"


class DeclarationItem(models.Model):
    """One claimed rule item. ``points`` is per unit: the rule's fixed value, or a value the
    member chose inside the rule's range; the reviewer may adjust it within the range."""

    declaration = models.ForeignKey(Declaration, on_delete=models.CASCADE, related_name="items")
    rule_item = models.ForeignKey(
        RuleItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule item")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points per unit"))
    event_date = models.DateField(_("date of the event"))
    place = models.CharField(_("place"), max_length=200)
    description = models.TextField(_("description"), max_length=2000)
    approved_points = models.PositiveIntegerField(_("approved points per unit"), null=True)
    adjustment_reason = models.CharField(_("reason for the adjustment"), max_length=500, blank=True)
    pool_month = models.DateField(
        _("pending pool month"),
        null=True,
        blank=True,
        help_text=_("Set on approval: the open month whose HR summary gathers the item."),
    )

    class Meta:
        verbose_name = _("declaration item")
        verbose_name_plural = _("declaration items")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_item} × {self.quantity}"

    @property
    def signed_total(self) -> int:
        """Points this item claims (or was approved for), with the rule's sign."""
        per_unit = self.approved_points if self.approved_points is not None else self.points
        return self.rule_item.sign * per_unit * self.quantity


class Evidence(models.Model):
    """A checked photo or PDF, stored under a generated name outside the static root."""

    item = models.ForeignKey(
        DeclarationItem,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    appeal = models.ForeignKey(
        "flows.Appeal",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="evidence",
    )
    file = models.FileField(_("file"), max_length=200)
    content_type = models.CharField(max_length=50)
    original_name = models.CharField(_("uploaded as"), max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            models.CheckConstraint(
                condition=Q(item__isnull=True) ^ Q(appeal__isnull=True),
                name="evidence_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class NoticeStatus(models.TextChoices):
    AWAITING_SIGNATURE = "awaiting_signature", _("awaiting signature")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class AwardNotice(models.Model):
    """奖扣分通知单: a leader awards or deducts points to members in their scope. Within the
    issuer's authority tier it needs no further review; above it, the next level signs."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    issuer = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="issued_notices", verbose_name=_("issuer")
    )
    status = models.CharField(_("status"), max_length=20, choices=NoticeStatus.choices)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to be signed by"),
    )
    decision_reason = models.CharField(_("reason"), max_length=500, blank=True)
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="award_notice",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("award notice")
        verbose_name_plural = _("award notices")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.issuer.name} #{self.pk}"


class NoticeItem(models.Model):
    notice = models.ForeignKey(AwardNotice, on_delete=models.CASCADE, related_name="items")
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="notice_items", verbose_name=_("member")
    )
    rule_item = models.ForeignKey(
        RuleItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule item")
    )
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    points = models.PositiveIntegerField(_("points per unit"))
    event_date = models.DateField(_("date of the event"))
    description = models.TextField(_("description"), max_length=2000)
    pool_month = models.DateField(_("pending pool month"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice item")
        verbose_name_plural = _("notice items")

    def __str__(self) -> str:
        return f"{self.member} {self.rule_item}"

    @property
    def signed_total(self) -> int:
        return self.rule_item.sign * self.points * self.quantity


class NotificationFrequency(models.TextChoices):
    EACH = "each", _("an e-mail for each event")
    DIGEST = "digest", _("one daily digest")


class NotificationPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    frequency = models.CharField(
        _("how often to e-mail me"),
        max_length=10,
        choices=NotificationFrequency.choices,
        default=NotificationFrequency.EACH,
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user} {self.frequency}"


class Notification(models.Model):
    """One event for one user: mailed after commit, or gathered into the daily digest."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "sent_at"], name="notification_unsent")]

    def __str__(self) -> str:
        return self.subject
