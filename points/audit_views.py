"""The audit log, searchable by HR and the committee of an organisation: by member, actor,
date range and action. Read-only; the log itself is append-only."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.views.generic import ListView

from points.audit_details import audit_details, audit_raw
from points.models import AuditEvent, Member, Organisation
from points.models.audit import ACTION_LABELS
from points.roles import Role
from points.selectors.org import member_for_user, user_roles
from points.widgets import IsoDateInput

#: Who may read an organisation's audit log.
AUDIT_READERS = {Role.HR, Role.COMMITTEE}


def audit_reader_organisation(*, user: Any) -> Organisation:
    member = member_for_user(user=user)
    if member is None or not (user_roles(user=user) & AUDIT_READERS):
        raise PermissionDenied(_("Only HR and the committee read the audit log."))
    return member.organisation


class AuditEventFilter(django_filters.FilterSet):
    member = django_filters.CharFilter(label=_("member"), method="by_member")
    actor = django_filters.CharFilter(label=_("actor"), method="by_actor")
    action = django_filters.CharFilter(label=_("action"), lookup_expr="startswith")
    since = django_filters.DateFilter(
        label=_("from"),
        field_name="created_at",
        lookup_expr="date__gte",
        widget=IsoDateInput,
    )
    until = django_filters.DateFilter(
        label=_("to"),
        field_name="created_at",
        lookup_expr="date__lte",
        widget=IsoDateInput,
    )

    class Meta:
        model = AuditEvent
        fields = ["member", "actor", "action", "since", "until"]

    def by_member(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> Any:
        return queryset.filter(Q(member__name__icontains=value) | Q(member__employee_no=value))

    def by_actor(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> Any:
        people = Member.objects.filter(Q(name__icontains=value) | Q(employee_no=value))
        return queryset.filter(Q(actor__username=value) | Q(actor__in=people.values("user")))


def _action_choices(current: str) -> list[tuple[str, Any]]:
    """The known actions in words (``ACTION_LABELS``), for the action filter's list; a
    code typed into the address that is not one of them (a prefix such as ``ledger.``)
    stays chosen under its own name."""
    choices: list[tuple[str, Any]] = [("", _("all actions")), *ACTION_LABELS.items()]
    if current and current not in ACTION_LABELS:
        choices.append((current, current))
    return choices


class AuditLogView(ListView):
    template_name = "points/audit_log.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self) -> Any:
        organisation = audit_reader_organisation(user=self.request.user)
        events = (
            AuditEvent.objects.filter(organisation=organisation)
            .select_related("actor", "member")
            .order_by("-created_at", "-id")
        )
        self.filterset = AuditEventFilter(self.request.GET, queryset=events)
        action = self.filterset.form.fields["action"]
        action.widget = forms.Select(choices=_action_choices(self.request.GET.get("action", "")))
        if not self.filterset.is_valid():
            return events.none()
        chosen = self.filterset.form.cleaned_data.get("action")
        if chosen in ACTION_LABELS:
            # An action chosen from the list is that action only; the filter's prefix
            # match would add the actions whose codes extend it (declaration.escalate →
            # declaration.escalate_overdue). A typed prefix still matches as a prefix.
            return self.filterset.qs.filter(action=chosen)
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        for event in context["events"]:
            event.details = audit_details(event.data)
            event.raw_data = audit_raw(event.data)
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query"] = query.urlencode()
        return context
