"""Member pickers for long lists. A leader of a 5,000-person factory picks a notice's members,
and a recorder the member they declare for, by typing a name or an employee number: the page
draws only the chosen members, and ``flows/member_picker.js`` (Tom Select) asks
``member_search`` for the others as the user types. Short lists stay plain selects."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.forms.models import ModelChoiceIterator
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from flows.choices import Offered
from points.ids import id_from
from points.models import Member
from points.selectors.org import (
    member_for_user,
)

RESULTS = 20  # members an answer lists; the user types more to narrow them
PURPOSES = ("notice", "declare")


def search_above() -> int:
    """Lists longer than this are searched instead of drawn whole."""
    return int(getattr(settings, "POINTS_MEMBER_SEARCH_ABOVE", 100))


def member_label(member: Member) -> str:
    """A member as pickers show them: names repeat in a large organisation, so the employee
    number and the unit come with the name (the unit must have been read with it)."""
    return f"{member.name} ({member.employee_no} · {member.unit.name})"


def matching(query: str) -> Q:
    """Members whose name holds ``query`` or whose employee number starts with it."""
    return Q(name__icontains=query) | Q(employee_no__istartswith=query)


class _SearchedMixin:
    """Draws only the chosen options; the others are found by search in the browser."""

    choices: Any

    def optgroups(self, name: str, value: list[Any], attrs: Any = None) -> Any:
        picked = [pk for pk in map(id_from, value) if pk is not None]
        if isinstance(self.choices, ModelChoiceIterator):
            field = self.choices.field
            accepted = field.queryset
            assert accepted is not None
            self.choices = Offered(field, lambda: accepted.filter(pk__in=picked))
        return super().optgroups(name, value, attrs)  # type: ignore[misc]


class SearchedSelect(_SearchedMixin, forms.Select):
    pass


class SearchedSelectMultiple(_SearchedMixin, forms.SelectMultiple):
    pass


def offer_by_search(field: forms.ModelChoiceField, *, purpose: str, count: int) -> None:
    """Labels the field's members with their number and unit; when there are more than
    ``search_above()`` of them, the field's select draws only the chosen ones and is searched
    through ``member_search`` (the field still accepts exactly its queryset)."""
    field.label_from_instance = member_label  # type: ignore[method-assign,assignment]
    if count <= search_above():
        return
    multiple = isinstance(field, forms.ModelMultipleChoiceField)
    widget = (SearchedSelectMultiple if multiple else SearchedSelect)(
        attrs={
            **field.widget.attrs,
            "data-search-url": f"{reverse('member_search')}?for={purpose}",
            "data-placeholder": _("Type a name or an employee number"),
            "data-no-results": _("No member found"),
            "data-remove": _("Remove"),
        }
    )
    widget.choices = field.choices
    widget.is_required = field.required
    field.widget = widget
    if multiple:
        field.help_text = _("Type a name or an employee number, then choose; repeat to add.")


def _notice_candidates(user: Any, query: str) -> list[Member]:
    """As the notice page offers them: active members of the units the user leads."""
    from flows.services import notice_scope

    scope = notice_scope(user=user)  # empty for a member who has left
    me = member_for_user(user=user)
    if me is None or not scope.exists():
        raise PermissionDenied
    found = scope.exclude(pk=me.pk).filter(matching(query))
    return list(found.select_related("unit").order_by("name", "employee_no")[:RESULTS])


SCANNED = 200  # matching members read to find RESULTS whom somebody could review


def _declare_candidates(user: Any, query: str) -> list[Member]:
    """As the declaration page offers them: a recorder's scope without the members nobody
    could review; anyone else declares only for themselves. Members nobody could review
    are few, so the first SCANNED matches are read at once (two queries in all); should
    they hold fewer than RESULTS reviewable ones, the user types more to narrow the search."""
    from flows.services import declarable_scope, nobody_could_review

    scope = declarable_scope(user=user)  # empty for a member who has left
    if not scope.exists():
        raise PermissionDenied
    found = list(scope.filter(matching(query))[:SCANNED])
    unreviewable = nobody_could_review(user=user, members=found)
    return [m for m in found if m.pk not in unreviewable][:RESULTS]


@require_GET
def member_search(request: HttpRequest) -> JsonResponse:
    """``?for=notice|declare&q=…``: up to ``RESULTS`` members the user may pick there, by
    name, with ``value`` (the pk) and ``text`` (the label). Refused (403) to a user who
    may not pick members there at all."""
    purpose = request.GET.get("for", "")
    if purpose not in PURPOSES:
        return JsonResponse(
            {"errors": [{"code": "for", "message": _("Say what the members are for.")}]},
            status=400,
        )
    query = request.GET.get("q", "").strip()[:100]
    if not query:
        return JsonResponse({"results": []})
    members = (_notice_candidates if purpose == "notice" else _declare_candidates)(
        request.user, query
    )
    return JsonResponse(
        {"results": [{"value": str(m.pk), "text": member_label(m)} for m in members]}
    )
