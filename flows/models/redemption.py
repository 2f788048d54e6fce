"""Redemptions (兑换): a member spends redeemable points on a reward from the points shop.

The points are spent when the member asks (a redemption entry in the ledger and one item
of stock, in one transaction); HR approves and then fulfils, or rejects with a reason; the
member may cancel before fulfilment. A rejection or cancellation refunds by a reversal
entry and puts the item back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from points.models import LedgerEntry, Member, Organisation, Reward


class RedemptionStatus(models.TextChoices):
    REQUESTED = "requested", _("waiting for HR approval")
    APPROVED = "approved", _("approved, waiting to be fulfilled")
    FULFILLED = "fulfilled", _("fulfilled")
    REJECTED = "rejected", _("rejected and refunded")
    CANCELLED = "cancelled", _("cancelled and refunded")


#: Statuses in which the points were given back.
REFUNDED = (RedemptionStatus.REJECTED, RedemptionStatus.CANCELLED)
#: Statuses in which the member may still cancel.
OPEN = (RedemptionStatus.REQUESTED, RedemptionStatus.APPROVED)


class Redemption(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("member")
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward")
    )
    points = models.PositiveIntegerField(_("points spent"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.REQUESTED,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("redemption entry"),
    )
    refund_entry = models.OneToOneField(
        LedgerEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("refund entry"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("fulfilled by"),
    )
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemption",
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="redemption_points_positive"),
            # Refunded exactly when rejected or cancelled.
            models.CheckConstraint(
                condition=Q(status__in=REFUNDED, refund_entry__isnull=False)
                | (~Q(status__in=REFUNDED) & Q(refund_entry__isnull=True)),
                name="redemption_refund_when_refunded",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "status"], name="redemption_member_status"),
            models.Index(fields=["organisation", "status"], name="redemption_org_status"),
        ]

    def __str__(self) -> str:
        return f"{self.member.name} · {self.reward.name}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN
