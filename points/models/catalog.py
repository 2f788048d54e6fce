"""The published rule catalog (奖扣分标准). Every change is kept as history."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .org import Organisation, OrgUnit


class RuleCategory(models.TextChoices):
    PERFORMANCE = "performance", _("performance")
    ATTITUDE = "attitude", _("attitude")
    TRAINING = "training", _("training")
    SUGGESTION = "suggestion", _("suggestion")
    HONOUR = "honour", _("honour")
    DISCIPLINE = "discipline", _("discipline")
    SAFETY = "safety", _("safety")
    ATTENDANCE = "attendance", _("attendance")
    HYGIENE = "hygiene", _("hygiene")
    SERVICE = "service", _("customer service")
    QUALITY = "quality", _("quality")
    OTHER = "other", _("other")


class RuleKind(models.TextChoices):
    AWARD = "award", _("award")
    DEDUCTION = "deduction", _("deduction")


class RuleItem(models.Model):
    """One line of the rule catalog. Points are magnitudes; ``kind`` gives the sign."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="rule_items",
        verbose_name=_("organisation"),
    )
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=20, choices=RuleCategory.choices)
    kind = models.CharField(_("kind"), max_length=10, choices=RuleKind.choices)
    points_min = models.PositiveIntegerField(
        _("points (minimum)"), validators=[MinValueValidator(1)]
    )
    points_max = models.PositiveIntegerField(
        _("points (maximum)"), validators=[MinValueValidator(1)]
    )
    evidence_required = models.BooleanField(_("evidence required"), default=False)
    cap_per_day = models.PositiveIntegerField(
        _("cap per member per day (points)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty means no cap."),
    )
    cap_per_month = models.PositiveIntegerField(
        _("cap per member per month (points)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty means no cap."),
    )
    leader_coaward_ratio = models.DecimalField(
        _("leader co-award ratio"),
        max_digits=4,
        decimal_places=3,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("The unit leader gains or loses this fraction alongside the member."),
    )
    veto = models.BooleanField(
        _("veto"),
        default=False,
        help_text=_("A violation that bars the member from rewards and redemption for the period."),
    )
    active = models.BooleanField(_("active"), default=True)
    units = models.ManyToManyField(
        OrgUnit,
        blank=True,
        related_name="rule_items",
        verbose_name=_("applies to units"),
        help_text=_("Empty means every unit. A unit includes its sub-units."),
    )
    description = models.TextField(_("description"), blank=True)

    history = HistoricalRecords(m2m_fields=[units])

    class Meta:
        verbose_name = _("rule item")
        verbose_name_plural = _("rule catalog")
        ordering = ["organisation", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="ruleitem_code_unique"),
            models.CheckConstraint(
                condition=Q(points_min__gte=1) & Q(points_max__gte=F("points_min")),
                name="ruleitem_points_range",
                violation_error_message=_("The maximum must not be below the minimum."),
            ),
            models.CheckConstraint(
                condition=Q(leader_coaward_ratio__gte=0) & Q(leader_coaward_ratio__lte=1),
                name="ruleitem_coaward_ratio_range",
            ),
            models.CheckConstraint(
                condition=Q(cap_per_day__isnull=True)
                | Q(cap_per_month__isnull=True)
                | Q(cap_per_month__gte=F("cap_per_day")),
                name="ruleitem_caps_order",
                violation_error_message=_("The monthly cap must not be below the daily cap."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_fixed(self) -> bool:
        return self.points_min == self.points_max

    @property
    def sign(self) -> int:
        return 1 if self.kind == RuleKind.AWARD else -1

    def points_display(self) -> str:
        sign = "+" if self.kind == RuleKind.AWARD else "−"
        if self.is_fixed:
            return f"{sign}{self.points_min}"
        return f"{sign}{self.points_min}~{self.points_max}"

    def clean(self) -> None:
        if self.points_min and self.points_max and self.points_max < self.points_min:
            raise ValidationError({"points_max": _("The maximum must not be below the minimum.")})
