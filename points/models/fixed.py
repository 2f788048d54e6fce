"""Fixed points (固定积分): a monthly table by education, title, position, skill and years
of service, pro-rated by attendance where attendance has been imported."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .org import Member, Organisation


class FixedPointFactor(models.TextChoices):
    EDUCATION = "education", _("education")
    TITLE = "title", _("professional title")
    POSITION = "position", _("position")
    SKILL = "skill", _("skill level")
    SENIORITY = "seniority", _("years of service")


class FixedPointRule(models.Model):
    """Monthly points for one value of one factor. For seniority, ``value`` is empty and
    ``points`` is given per full year of service."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="fixed_point_rules"
    )
    factor = models.CharField(_("factor"), max_length=20, choices=FixedPointFactor.choices)
    value = models.CharField(
        _("value"),
        max_length=100,
        blank=True,
        help_text=_("As recorded on the member, e.g. “bachelor” or “高级技师”."),
    )
    points = models.PositiveIntegerField(_("points per month"))

    class Meta:
        verbose_name = _("fixed point rule")
        verbose_name_plural = _("fixed point table")
        ordering = ["organisation", "factor", "-points"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "factor", "value"], name="fixed_point_rule_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_factor_display()} {self.value} {self.points}"


class Attendance(models.Model):
    """Days present of the days required in a month, imported from an attendance system."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="attendance")
    month = models.DateField(_("month"), help_text=_("First day of the month."))
    days_present = models.PositiveSmallIntegerField(_("days present"))
    days_required = models.PositiveSmallIntegerField(
        _("days required"), validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        constraints = [
            models.UniqueConstraint(fields=["member", "month"], name="attendance_unique"),
            models.CheckConstraint(
                condition=Q(days_present__lte=models.F("days_required")) & Q(days_required__gte=1),
                name="attendance_days_in_range",
                violation_error_message=_("Days present cannot exceed the days required."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.month:%Y-%m} {self.days_present}/{self.days_required}"
