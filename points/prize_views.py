"""HR's list of prize winners, to hand the prizes over and mark them paid. The services in
``points.services.prizes`` decide and record."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from points.models import Organisation, PrizeAward
from points.roles import Role
from points.selectors.org import member_for_user, user_roles
from points.selectors.prizes import prize_awards_for_organisation
from points.services.prizes import prize_award_mark_paid

LIST_URL = "shop:prizes:index"


def _hr_organisation(request: HttpRequest) -> Organisation:
    member = member_for_user(user=request.user)
    if member is None or Role.HR not in user_roles(user=request.user):
        raise PermissionDenied
    return member.organisation


class PrizeAwardListView(ListView):
    """Winners of the organisation's prize tables: unpaid first."""

    template_name = "points/prize_awards.html"
    context_object_name = "awards"
    paginate_by = 50

    def get_queryset(self) -> Any:
        organisation = _hr_organisation(self.request)
        shown = self.request.GET.get("paid")
        paid = {"yes": True, "no": False}.get(shown or "")
        return prize_awards_for_organisation(organisation=organisation, paid=paid)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["shown"] = self.request.GET.get("paid", "")
        return context


@require_POST
def prize_award_paid(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = _hr_organisation(request)
    award = PrizeAward.objects.filter(pk=pk, organisation=organisation).first()
    if award is None:
        raise Http404
    try:
        prize_award_mark_paid(award=award, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            _("Marked as paid: %(prize)s to %(member)s.")
            % {"prize": award.prize, "member": award.member.name},
        )
    return HttpResponseRedirect(reverse(LIST_URL))
