"""Import and export of units, members and the rule catalog (django-import-export).

Every row names its organisation by code. A resource built for a non-superuser only accepts
that user's organisation; related units, leaders and tiers are looked up inside the row's
organisation, so codes never leak across organisations. Rows are validated with the
models' ``full_clean`` and the whole import runs in one transaction: one bad row, nothing
imported.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets

from points.models import AuthorityTier, Member, Organisation, OrgUnit, RuleItem


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


class OrganisationWidget(widgets.ForeignKeyWidget):
    def __init__(self, resource: ScopedResource) -> None:
        super().__init__(Organisation, "code")
        self.resource = resource

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Organisation | None:
        code = str(value).strip() if value is not None else ""
        if not code:
            raise ValueError(_("The organisation code is missing."))
        allowed = self.resource.organisation
        if allowed is not None and code != allowed.code:
            raise ValueError(
                _("You may only import into your own organisation (%(code)s).")
                % {"code": allowed.code}
            )
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise ValueError(_("No organisation has the code “%(code)s”.") % {"code": code})
        return organisation


class InOrganisationWidget(widgets.ForeignKeyWidget):
    """A foreign key looked up by a natural key inside the row's organisation."""

    def __init__(self, model: type[Model], field: str, missing_message: Any) -> None:
        super().__init__(model, field)
        self.missing_message = missing_message

    def get_queryset(self, value: Any, row: Any, *args: Any, **kwargs: Any) -> QuerySet[Any]:
        code = str(row.get("organisation") or "").strip()
        return self.model.objects.filter(organisation__code=code)

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        if _blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        found = self.get_queryset(value, row).filter(**{self.field: str(value).strip()}).first()
        if found is None:
            raise ValueError(str(self.missing_message) % {"value": value})
        return found


class UnitsInOrganisationWidget(widgets.ManyToManyWidget):
    """Comma-separated unit codes inside the row's organisation; an unknown code is an error."""

    def __init__(self) -> None:
        super().__init__(OrgUnit, field="code", separator=",")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> QuerySet[OrgUnit]:
        if _blank(value):
            return OrgUnit.objects.none()
        codes = [part.strip() for part in str(value).split(self.separator) if part.strip()]
        code = str((row or {}).get("organisation") or "").strip()
        units = OrgUnit.objects.filter(organisation__code=code, code__in=codes)
        missing = sorted(set(codes) - set(units.values_list("code", flat=True)))
        if missing:
            raise ValueError(_("Unknown unit codes: %(codes)s") % {"codes": ", ".join(missing)})
        return units


class ScopedResource(resources.ModelResource):
    #: The field that identifies a row inside its organisation.
    natural_key = "code"

    def __init__(self, *, organisation: Organisation | None = None, **kwargs: Any) -> None:
        self.organisation = organisation
        super().__init__(**kwargs)
        self.fields["organisation"] = fields.Field(
            attribute="organisation", column_name="organisation", widget=OrganisationWidget(self)
        )

    def get_instance(self, instance_loader: Any, row: Any) -> Any:
        """The existing row with this natural key in the row's organisation (never another
        organisation's, so a bad organisation code is reported as a row error)."""
        code = str(row.get("organisation") or "").strip()
        key = str(row.get(self.natural_key) or "").strip()
        if self.organisation is not None and code != self.organisation.code:
            return None
        return (
            self.get_queryset().filter(organisation__code=code, **{self.natural_key: key}).first()
        )

    def get_queryset(self) -> QuerySet[Any]:
        queryset = super().get_queryset()
        if self.organisation is not None:
            queryset = queryset.filter(organisation=self.organisation)
        return queryset


class OrgUnitResource(ScopedResource):
    parent = fields.Field(
        attribute="parent",
        column_name="parent",
        widget=InOrganisationWidget(
            OrgUnit, "code", gettext_lazy("No unit has the code “%(value)s”.")
        ),
    )
    leader = fields.Field(
        attribute="leader",
        column_name="leader",
        widget=InOrganisationWidget(
            Member, "employee_no", gettext_lazy("No member has the employee number “%(value)s”.")
        ),
    )
    authority_tier = fields.Field(
        attribute="authority_tier",
        column_name="authority_tier",
        widget=InOrganisationWidget(
            AuthorityTier, "level", gettext_lazy("No authority tier has level %(value)s.")
        ),
    )

    class Meta:
        model = OrgUnit
        fields = ("organisation", "code", "name", "kind", "parent", "leader", "authority_tier")
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False


class UsernameWidget(widgets.ForeignKeyWidget):
    """A login by username; a new username creates a login with no usable password yet."""

    def __init__(self) -> None:
        super().__init__(get_user_model(), "username")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        if _blank(value):
            return None
        username = str(value).strip()
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(username=username)
            user.set_unusable_password()
            user.full_clean(exclude=["password"])
            user.save()
        return user


class IsoDateWidget(widgets.DateWidget):
    def __init__(self) -> None:
        super().__init__("%Y-%m-%d")

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        try:
            return super().clean(value, row, **kwargs)
        except ValueError as error:
            raise ValueError(
                _("“%(value)s” is not a date; write it as YYYY-MM-DD.") % {"value": value}
            ) from error


class MemberResource(ScopedResource):
    natural_key = "employee_no"
    unit = fields.Field(
        attribute="unit",
        column_name="unit",
        widget=InOrganisationWidget(
            OrgUnit, "code", gettext_lazy("No unit has the code “%(value)s”.")
        ),
    )
    user = fields.Field(attribute="user", column_name="username", widget=UsernameWidget())
    hire_date = fields.Field(attribute="hire_date", column_name="hire_date", widget=IsoDateWidget())

    class Meta:
        model = Member
        fields = (
            "organisation",
            "employee_no",
            "name",
            "kind",
            "unit",
            "user",
            "position",
            "education",
            "title",
            "skill_level",
            "hire_date",
            "status",
        )
        import_id_fields = ("employee_no",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False


class RuleItemResource(ScopedResource):
    units = fields.Field(attribute="units", column_name="units", widget=UnitsInOrganisationWidget())

    def import_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        """Check the unit codes with the other fields, so a row reports all its errors at
        once (import-export only reads many-to-many columns after saving)."""
        errors: dict[str, Any] = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        try:
            self.fields["units"].clean(row)
        except ValueError as error:
            errors["units"] = [str(error)]
        if errors:
            raise ValidationError(errors)

    class Meta:
        model = RuleItem
        fields = (
            "organisation",
            "code",
            "name",
            "category",
            "kind",
            "points_min",
            "points_max",
            "evidence_required",
            "cap_per_day",
            "cap_per_month",
            "leader_coaward_ratio",
            "veto",
            "active",
            "units",
            "description",
        )
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = False
