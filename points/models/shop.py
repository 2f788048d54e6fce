"""The points shop (积分超市): rewards members spend their redeemable points on.

HR keeps the rewards (admin). A redemption (``flows``) spends the points through the ledger
and takes one item of stock in the same transaction; the stock never goes below zero (a
check constraint backs the locked, conditional update in ``points.services.shop``).
"""

from __future__ import annotations

import posixpath
import uuid
from datetime import date
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from points.roles import Role

from .org import Organisation, OrgUnit


class RewardKind(models.TextChoices):
    GIFT = "gift", _("gift")
    CASH_VOUCHER = "cash_voucher", _("cash voucher")
    PAID_LEAVE = "paid_leave", _("paid leave")
    TRAINING_PLACE = "training_place", _("training place")


def reward_picture_name(instance: Any, filename: str) -> str:
    """A generated name under MEDIA_ROOT; the uploaded name is never used (only the
    extension the picture check chose)."""
    extension = posixpath.splitext(filename)[1].lower().lstrip(".") or "png"
    return f"rewards/{uuid.uuid4().hex}.{extension}"


class Reward(models.Model):
    """Something on offer in the points shop."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="rewards",
        verbose_name=_("organisation"),
    )
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=RewardKind.choices, default=RewardKind.GIFT
    )
    picture = models.FileField(
        _("picture"),
        upload_to=reward_picture_name,
        blank=True,
        help_text=_("A photo (JPEG, PNG, GIF or WebP); it is checked and re-encoded."),
    )
    picture_type = models.CharField(max_length=30, blank=True, editable=False)
    points_cost = models.PositiveIntegerField(_("points cost"), validators=[MinValueValidator(1)])
    stock = models.PositiveIntegerField(_("stock"), default=0)
    units = models.ManyToManyField(
        OrgUnit,
        blank=True,
        related_name="+",
        verbose_name=_("for units"),
        help_text=_("Empty: every unit. A unit includes its sub-units."),
    )
    roles = models.ManyToManyField(
        Group,
        blank=True,
        related_name="+",
        verbose_name=_("for roles"),
        limit_choices_to={"name__in": Role.values},
        help_text=_("Empty: every role."),
    )
    active_from = models.DateField(_("on offer from"), null=True, blank=True)
    active_until = models.DateField(_("on offer until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["organisation", "points_cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="reward_stock_not_negative"),
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(active_from__isnull=True)
                | Q(active_until__isnull=True)
                | Q(active_until__gte=F("active_from")),
                name="reward_active_dates_in_order",
                violation_error_message=_("The offer cannot end before it starts."),
            ),
        ]
        indexes = [models.Index(fields=["organisation", "active"], name="reward_org_active")]

    def __str__(self) -> str:
        return self.name

    def is_on_offer(self, today: date) -> bool:
        return (
            self.active
            and (self.active_from is None or self.active_from <= today)
            and (self.active_until is None or today <= self.active_until)
        )

    def clean(self) -> None:
        if self.active_from and self.active_until and self.active_until < self.active_from:
            raise ValidationError({"active_until": _("The offer cannot end before it starts.")})
