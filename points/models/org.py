"""Organisations, their policies, the org unit tree and members."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

PATH_SEPARATOR = "/"


class Organisation(models.Model):
    """One factory, office, school or village. One installation serves several."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["code"]
        #: Held per organisation (django-guardian object permissions), never globally, so
        #: task queues that ask for them stay inside the organisation.
        permissions = [
            ("rule_appeal", _("Can rule on appeals of the organisation")),
            ("handle_redemption", _("Can approve and fulfil redemptions of the organisation")),
            ("reexamine_appeal", _("Can re-examine appeals of the organisation")),
        ]

    def __str__(self) -> str:
        return self.name


class SummaryPeriod(models.TextChoices):
    WEEK = "week", _("week")
    MONTH = "month", _("month")
    QUARTER = "quarter", _("quarter")


class CommitteeQuorum(models.TextChoices):
    ALL = "all", _("all members")
    MAJORITY = "majority", _("majority")
    ANY = "any", _("any one member")


def default_grade_distribution() -> dict[str, list[int]]:
    """Forced distribution, per cent (min, max), per the machine factory document; C is the
    rest."""
    return {"A": [5, 10], "B": [15, 20], "D": [15, 20], "E": [5, 10]}


def default_grade_bands() -> list[list[object]]:
    """Grades by total for groups too small to distribute: [minimum total, grade], highest
    first; a minimum of null catches the rest."""
    return [[200, "A"], [100, "B"], [0, "C"], [-50, "D"], [None, "E"]]


class Policy(models.Model):
    """An organisation's policy settings. Every field has a safe default."""

    organisation = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        related_name="policy",
        verbose_name=_("organisation"),
    )
    base_points = models.PositiveIntegerField(
        _("base points on joining"), default=500, help_text=_("Given once when a member joins.")
    )
    publicity_window_days = models.PositiveSmallIntegerField(
        _("publicity window (days)"), default=7, validators=[MinValueValidator(1)]
    )
    summary_period = models.CharField(
        _("summary period"),
        max_length=10,
        choices=SummaryPeriod.choices,
        default=SummaryPeriod.MONTH,
    )
    year_end_reset = models.BooleanField(
        _("reset points at year end"),
        default=False,
        help_text=_("Off: points stay valid for life while employed."),
    )
    clear_on_leave = models.BooleanField(_("clear points when a member leaves"), default=True)
    expiry_reminder_days = models.PositiveSmallIntegerField(
        _("remind members this many days before a reset"), default=15
    )
    committee_quorum = models.CharField(
        _("committee sign-off rule"),
        max_length=10,
        choices=CommitteeQuorum.choices,
        default=CommitteeQuorum.MAJORITY,
    )
    review_reminder_days = models.PositiveSmallIntegerField(
        _("remind a reviewer after (days)"), default=2, validators=[MinValueValidator(1)]
    )
    review_escalation_days = models.PositiveSmallIntegerField(
        _("escalate an unreviewed declaration after (days)"),
        default=5,
        validators=[MinValueValidator(1)],
    )
    appeal_hr_days = models.PositiveSmallIntegerField(
        _("days for HR to re-examine an appeal"), default=3, validators=[MinValueValidator(1)]
    )
    appeal_committee_days = models.PositiveSmallIntegerField(
        _("days for the committee to rule on an appeal"),
        default=5,
        validators=[MinValueValidator(1)],
    )
    redemption_lowers_ranking = models.BooleanField(
        _("redemption lowers the ranking total"),
        default=False,
        help_text=_("Off: rankings count points earned; spending does not lower them."),
    )
    keep_photo_location = models.BooleanField(_("keep location data in photos"), default=False)
    max_upload_mb = models.PositiveSmallIntegerField(
        _("largest evidence file (MB)"), default=10, validators=[MinValueValidator(1)]
    )
    upload_quota_mb_per_day = models.PositiveIntegerField(
        _("evidence quota per person (MB in 24 hours)"),
        default=200,
        validators=[MinValueValidator(1)],
    )
    grade_distribution = models.JSONField(
        _("forced distribution (per cent, minimum and maximum)"),
        default=default_grade_distribution,
        help_text=_("Grades A, B, D and E as [minimum, maximum] per cent; C takes the rest."),
    )
    forced_distribution_min_group = models.PositiveSmallIntegerField(
        _("smallest group for forced distribution"), default=5, validators=[MinValueValidator(2)]
    )
    grade_bands = models.JSONField(
        _("grade bands for small groups"),
        default=default_grade_bands,
        help_text=_("[minimum total, grade] pairs, highest first; null catches the rest."),
    )

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        constraints = [
            models.CheckConstraint(
                condition=Q(review_escalation_days__gte=models.F("review_reminder_days")),
                name="policy_escalation_after_reminder",
                violation_error_message=_("Escalation must not come before the reminder."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Policy of %(organisation)s") % {"organisation": self.organisation})


class AuthorityTier(models.Model):
    """How many points (per declaration) the leader of a unit at this tier may grant alone.

    Above it, approval escalates to the next unit up the tree (分层分级授权).
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="authority_tiers"
    )
    level = models.PositiveSmallIntegerField(_("level"), help_text=_("1 is the lowest tier."))
    name = models.CharField(_("name"), max_length=100)
    max_points = models.PositiveIntegerField(
        _("largest amount per declaration"),
        null=True,
        blank=True,
        help_text=_("Empty means no limit."),
    )

    class Meta:
        verbose_name = _("authority tier")
        verbose_name_plural = _("authority tiers")
        ordering = ["organisation", "level"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "level"], name="tier_level_unique"),
        ]

    def __str__(self) -> str:
        limit = self.max_points if self.max_points is not None else "∞"
        return f"{self.name} ({limit})"


class OrgUnitKind(models.TextChoices):
    COMPANY = "company", _("company")
    DEPARTMENT = "department", _("department")
    WORKSHOP = "workshop", _("workshop")
    TEAM = "team", _("team")
    VILLAGE = "village", _("village")
    GROUP = "group", _("village group")


class OrgUnit(models.Model):
    """A node of the org tree: department, workshop, team, village group.

    ``path`` is the materialised path of primary keys ("/1/4/9/"), kept by ``save()``, so a
    subtree is one indexed ``startswith`` filter.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="units", verbose_name=_("organisation")
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent unit"),
    )
    code = models.SlugField(_("code"), max_length=50)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=20, choices=OrgUnitKind.choices, default=OrgUnitKind.DEPARTMENT
    )
    leader = models.ForeignKey(
        "Member",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_units",
        verbose_name=_("leader"),
    )
    authority_tier = models.ForeignKey(
        AuthorityTier,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="units",
        verbose_name=_("authority tier of its leader"),
    )
    path = models.CharField(max_length=500, editable=False, db_index=True, default="")

    class Meta:
        verbose_name = _("org unit")
        verbose_name_plural = _("org units")
        ordering = ["organisation", "path"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="orgunit_code_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        old_path = self.path
        if self.pk is None:
            super().save(*args, **kwargs)  # type: ignore[arg-type]
            kwargs = {}
        parent_path = self.parent.path if self.parent_id and self.parent else PATH_SEPARATOR
        self.path = f"{parent_path}{self.pk}{PATH_SEPARATOR}"
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        if old_path and old_path != self.path:
            for child in OrgUnit.objects.filter(parent=self):
                child.save()

    @property
    def depth(self) -> int:
        return self.path.count(PATH_SEPARATOR) - 1

    def ancestor_ids(self) -> list[int]:
        """Primary keys from the root down to and including this unit."""
        return [int(part) for part in self.path.strip(PATH_SEPARATOR).split(PATH_SEPARATOR) if part]

    def clean(self) -> None:
        if self.parent_id is None:
            return
        if self.parent is not None and self.parent.organisation_id != self.organisation_id:
            raise ValidationError({"parent": _("The parent unit belongs to another organisation.")})
        if self.pk and self.parent is not None and self.pk in self.parent.ancestor_ids():
            raise ValidationError({"parent": _("A unit cannot be placed under itself.")})
        if self.leader is not None and self.leader.organisation_id != self.organisation_id:
            raise ValidationError({"leader": _("The leader belongs to another organisation.")})


class MemberKind(models.TextChoices):
    PERSON = "person", _("person")
    HOUSEHOLD = "household", _("household")
    UNIT = "unit", _("unit (shop, association)")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    LEFT = "left", _("left")


class Education(models.TextChoices):
    NONE = "", _("not recorded")
    JUNIOR = "junior", _("junior school or below")
    SENIOR = "senior", _("senior or vocational school")
    COLLEGE = "college", _("college")
    BACHELOR = "bachelor", _("bachelor")
    POSTGRADUATE = "postgraduate", _("postgraduate")


class Member(models.Model):
    """Whoever holds points: an employee by default; in village schemes also a household or
    a unit, each with an accountable person (``user``) who logs in."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("organisation"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("login (accountable person)"),
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=MemberKind.choices, default=MemberKind.PERSON
    )
    employee_no = models.CharField(_("employee number"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="members", verbose_name=_("unit")
    )
    position = models.CharField(_("position"), max_length=100, blank=True)
    education = models.CharField(
        _("education"), max_length=20, choices=Education.choices, blank=True, default=""
    )
    title = models.CharField(_("professional title"), max_length=100, blank=True)
    skill_level = models.CharField(_("skill level"), max_length=100, blank=True)
    hire_date = models.DateField(_("hire date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    left_on = models.DateField(_("left on"), null=True, blank=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["organisation", "employee_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "employee_no"], name="member_employee_no_unique"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(kind="person"),
                name="member_one_person_per_user",
                violation_error_message=_("This login already belongs to another person."),
            ),
            models.CheckConstraint(
                condition=Q(status="active", left_on__isnull=True) | Q(status="left"),
                name="member_left_on_only_when_left",
                violation_error_message=_("Only a member who has left has a leaving date."),
            ),
        ]
        indexes = [models.Index(fields=["unit", "status"], name="member_unit_status")]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_no})"

    def clean(self) -> None:
        errors: dict[str, object] = {}
        if self.unit_id and self.unit.organisation_id != self.organisation_id:
            errors["unit"] = _("The unit belongs to another organisation.")
        if self.user_id:
            other = (
                Member.objects.filter(user_id=self.user_id)
                .exclude(pk=self.pk)
                .exclude(organisation_id=self.organisation_id)
            )
            if other.exists():
                errors["user"] = _("This login already belongs to another organisation.")
            elif self.user is not None and self.user.is_superuser:
                # a superuser passes every permission check, across organisations
                errors["user"] = _(
                    "A superuser's login cannot belong to a member: it passes every "
                    "permission check. Give the member a login of their own."
                )
        if errors:
            raise ValidationError(errors)
