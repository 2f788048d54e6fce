"""The admin of the points shop and prize tables, scoped to the user's organisation like
the rest (``points.admin``). HR keeps rewards and prize tables here; prizes won are
computed at period close and only marked paid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from points.admin import OrganisationScopedAdmin, ReadOnlyAdmin, RelatedOnly
from points.models import PrizeAward, PrizeBasis, PrizeTable, PrizeTier, Reward
from points.pictures import MAX_PICTURE_BYTES, picture_check
from points.roles import Role
from points.selectors.org import user_roles
from points.services.prizes import prize_award_mark_paid


class RewardForm(forms.ModelForm):
    """The picture is checked by its content and re-encoded before it is stored."""

    class Meta:
        model = Reward
        fields = [
            "organisation",
            "name",
            "description",
            "kind",
            "picture",
            "points_cost",
            "stock",
            "units",
            "roles",
            "active_from",
            "active_until",
            "active",
        ]

    def clean_picture(self) -> Any:
        picture = self.cleaned_data.get("picture")
        if not isinstance(picture, UploadedFile):
            return picture  # unchanged, cleared or none
        checked = picture_check(data=picture.read(MAX_PICTURE_BYTES + 1))
        self.instance.picture_type = checked.content_type
        return checked.content


@admin.register(Reward)
class RewardAdmin(OrganisationScopedAdmin):
    form = RewardForm
    list_display = (
        "name",
        "kind",
        "points_cost",
        "stock",
        "active",
        "active_from",
        "active_until",
        "organisation",
    )
    list_filter = (("organisation", RelatedOnly), "kind", "active")
    search_fields = ("name",)
    filter_horizontal = ("units", "roles")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch it off instead: redemptions refer to it


class PrizeTierFormSet(forms.BaseInlineFormSet):  # type: ignore[type-arg]
    """A table by rank has places; a table by threshold has minimum totals."""

    def clean(self) -> None:
        super().clean()
        basis = self.instance.basis
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            if basis == PrizeBasis.RANK and data.get("place") is None:
                raise ValidationError(_("A table by rank gives each prize a place."))
            if basis == PrizeBasis.THRESHOLD and data.get("min_points") is None:
                raise ValidationError(_("A table by threshold gives each prize a minimum total."))


class PrizeTierInline(admin.TabularInline):
    model = PrizeTier
    formset = PrizeTierFormSet
    extra = 1
    fields = ("place", "min_points", "prize", "amount")


@admin.register(PrizeTable)
class PrizeTableAdmin(OrganisationScopedAdmin):
    inlines = [PrizeTierInline]
    list_display = ("name", "period_kind", "group", "basis", "unit", "active", "organisation")
    list_filter = (("organisation", RelatedOnly), "period_kind", "group", "basis", "active")
    search_fields = ("name",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # switch it off instead: prizes won refer to it


@admin.register(PrizeAward)
class PrizeAwardAdmin(ReadOnlyAdmin):
    list_display = (
        "period_start",
        "table",
        "place",
        "member",
        "total",
        "prize",
        "amount",
        "paid",
        "paid_at",
        "paid_by",
    )
    list_filter = ("paid", "period_kind", ("table", RelatedOnly))
    search_fields = ("member__name", "member__employee_no", "prize")
    list_select_related = ("table", "member", "paid_by")
    actions = ["mark_paid"]

    def has_mark_paid_permission(self, request: HttpRequest) -> bool:
        return Role.HR in user_roles(user=request.user)

    @admin.action(description=_("Mark as paid"), permissions=["mark_paid"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[PrizeAward]) -> None:
        paid = 0
        for award in queryset.filter(paid=False):
            try:
                prize_award_mark_paid(award=award, user=request.user)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                paid += 1
        self.message_user(request, _("%(count)s prizes marked as paid.") % {"count": paid})
