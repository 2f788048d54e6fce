"""The Django admin, scoped: a non-superuser sees and edits only their own organisation."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin as _ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin

from points.models import (
    Account,
    Attendance,
    AuditEvent,
    AuthorityTier,
    FixedPointRule,
    LedgerEntry,
    Member,
    Organisation,
    OrgUnit,
    Period,
    Policy,
    RuleItem,
)
from points.resources import MemberResource, OrgUnitResource, RuleItemResource
from points.selectors.org import organisation_for_user

admin.site.site_header = _("Points system administration")
admin.site.site_title = _("Points system")
admin.site.index_title = _("Administration")

#: Filters list only values the admin's (scoped) rows use: HR of one organisation never
#: sees another organisation's name, or its prize tables, in the sidebar.
RelatedOnly = admin.RelatedOnlyFieldListFilter


class ImportExportModelAdmin(_ImportExportModelAdmin):
    """Spreadsheets only: CSV and XLSX."""

    formats = [CSV, XLSX]

    def export_action(self, request: HttpRequest) -> Any:
        """The export of a filtered list; a filter no list takes (``?action=x``) answers as
        the list itself does (its "?e=1" page), not with a 500."""
        from django.contrib.admin.options import IncorrectLookupParameters
        from django.contrib.admin.views.main import ERROR_FLAG
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        try:
            return super().export_action(request)
        except IncorrectLookupParameters:
            opts = self.model._meta
            changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            return HttpResponseRedirect(f"{changelist}?{ERROR_FLAG}=1")


class OrganisationScopedAdmin(admin.ModelAdmin):
    """Rows, choices and imports limited to the user's organisation (superusers see all)."""

    organisation_lookup = "organisation"

    def _organisation(self, request: HttpRequest) -> Organisation | None:
        return organisation_for_user(user=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        organisation = self._organisation(request)
        if organisation is None:
            return queryset.none()
        return queryset.filter(**{self.organisation_lookup: organisation})

    def _scope_related(self, db_field: Any, request: HttpRequest, kwargs: dict[str, Any]) -> None:
        if request.user.is_superuser:
            return
        organisation = self._organisation(request)
        related = db_field.related_model
        if related is Organisation:
            kwargs["queryset"] = Organisation.objects.filter(
                pk__in=[organisation.pk] if organisation else []
            )
        elif any(f.name == "organisation" for f in related._meta.fields):
            kwargs["queryset"] = related._default_manager.filter(organisation=organisation)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scope_related(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scope_related(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = dict(super().get_changeform_initial_data(request))
        organisation = self._organisation(request)
        if organisation is not None:
            initial.setdefault("organisation", organisation.pk)
        return initial

    def get_resource_kwargs(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        resource_kwargs = super().get_resource_kwargs(request, *args, **kwargs)  # type: ignore[misc]
        if not request.user.is_superuser:
            resource_kwargs["organisation"] = self._organisation(request)
        return resource_kwargs


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedAdmin):
    organisation_lookup = "pk"
    list_display = ("code", "name", "timezone", "created_at")
    search_fields = ("code", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = admin.ModelAdmin.get_queryset(self, request)
        if request.user.is_superuser:
            return queryset
        organisation = self._organisation(request)
        return queryset.filter(pk__in=[organisation.pk] if organisation else [])


@admin.register(Policy)
class PolicyAdmin(OrganisationScopedAdmin):
    list_display = (
        "organisation",
        "base_points",
        "publicity_window_days",
        "summary_period",
        "committee_quorum",
        "year_end_reset",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuthorityTier)
class AuthorityTierAdmin(OrganisationScopedAdmin):
    list_display = ("organisation", "level", "name", "max_points")
    list_filter = (("organisation", RelatedOnly),)


@admin.register(OrgUnit)
class OrgUnitAdmin(OrganisationScopedAdmin, ImportExportModelAdmin):
    resource_classes = [OrgUnitResource]
    list_display = ("indented_name", "code", "kind", "leader", "authority_tier", "organisation")
    list_filter = (("organisation", RelatedOnly), "kind")
    search_fields = ("code", "name")
    raw_id_fields = ("leader",)
    list_select_related = ("leader", "authority_tier", "organisation")

    @admin.display(description=_("name"), ordering="path")
    def indented_name(self, obj: OrgUnit) -> str:
        return "— " * obj.depth + obj.name


@admin.register(Member)
class MemberAdmin(OrganisationScopedAdmin, ImportExportModelAdmin):
    resource_classes = [MemberResource]
    list_display = ("employee_no", "name", "kind", "unit", "position", "status", "user")
    list_filter = (("organisation", RelatedOnly), "status", "kind", "education")
    search_fields = ("employee_no", "name", "user__username")
    raw_id_fields = ("user",)
    list_select_related = ("unit", "user")
    autocomplete_fields = ()


@admin.register(RuleItem)
class RuleItemAdmin(OrganisationScopedAdmin, ImportExportModelAdmin, SimpleHistoryAdmin):
    resource_classes = [RuleItemResource]
    list_display = (
        "code",
        "name",
        "category",
        "kind",
        "points_min",
        "points_max",
        "evidence_required",
        "cap_per_day",
        "cap_per_month",
        "veto",
        "active",
    )
    list_filter = (("organisation", RelatedOnly), "category", "kind", "active", "veto")
    search_fields = ("code", "name")
    filter_horizontal = ("units",)

    # django-simple-history's pages read the history table directly: scope them first.
    def _in_scope(self, request: HttpRequest, object_id: str) -> None:
        from django.contrib.admin.utils import unquote
        from django.http import Http404

        # (``get_object`` answers None for an id that is no id, such as "²")
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        self._in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> Any:
        self._in_scope(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    history_list_display = ("points_min", "points_max", "active")


class ReadOnlyAdmin(OrganisationScopedAdmin):
    """Records that only services write: visible, never edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "booked_on",
        "member",
        "kind",
        "amount",
        "rule_item",
        "approved_by",
        "idempotency_key",
    )
    list_filter = ("kind", ("organisation", RelatedOnly))
    search_fields = ("member__name", "member__employee_no", "idempotency_key")
    list_select_related = ("member", "rule_item", "approved_by")
    date_hierarchy = "booked_on"


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("member", "lifetime_total", "redeemable", "frozen", "flagged_for_review")
    list_filter = ("frozen", "flagged_for_review", ("organisation", RelatedOnly))
    search_fields = ("member__name", "member__employee_no")
    list_select_related = ("member",)


@admin.register(Period)
class PeriodAdmin(ReadOnlyAdmin):
    list_display = ("month", "organisation", "closed_at", "closed_by")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "actor", "member", "object_repr")
    list_filter = ("action",)
    search_fields = ("action", "object_repr", "member__name", "actor__username")


@admin.register(FixedPointRule)
class FixedPointRuleAdmin(OrganisationScopedAdmin):
    list_display = ("factor", "value", "points", "organisation")
    list_filter = (("organisation", RelatedOnly), "factor")


@admin.register(Attendance)
class AttendanceAdmin(OrganisationScopedAdmin):
    organisation_lookup = "member__organisation"
    list_display = ("member", "month", "days_present", "days_required")
    raw_id_fields = ("member",)


# The points shop and prize tables (registered on import).
from points import admin_shop  # noqa: E402, F401
