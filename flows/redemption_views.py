"""Pages of the points shop and the redemption flow. Forms validate; the services in
``flows.redemption`` decide and record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_http_methods
from django.views.generic import ListView

from flows.forms import ConfirmedForm
from flows.models import Redemption
from flows.once import Once
from flows.redemption import (
    may_redeem,
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
    redemption_visible_to,
    reward_for_request,
)
from points.models import Member, Reward
from points.periods import organisation_today
from points.roles import Role
from points.selectors.org import member_for_user, user_roles
from points.selectors.shop import redeemable_balance, reward_refusal, rewards_for_member

__all__ = ["may_redeem"]

START_URL = "shop:redemption:start:execute"
LIST_URL = "shop:redemption:index"


def _redeemable(member: Member | None) -> int:
    return redeemable_balance(member_id=member.pk if member is not None else None)


# --- the shop -------------------------------------------------------------------------------


class ShopView(View):
    """Rewards on offer that the member may redeem, with their balance."""

    template_name = "flows/shop.html"

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = member_for_user(user=request.user)
        rewards: list[Reward] = []
        if member is not None:
            rewards = list(
                rewards_for_member(
                    member=member,
                    roles=user_roles(user=request.user),
                    today=organisation_today(member.organisation),
                )
            )
        return render(
            request,
            self.template_name,
            {
                "member": member,
                "rewards": rewards,
                "redeemable": _redeemable(member),
                "may_redeem": may_redeem(request.user),
                "is_hr": Role.HR in user_roles(user=request.user),
                "start_url": reverse(START_URL),
            },
        )


def reward_picture(request: HttpRequest, pk: int) -> FileResponse:
    """A reward's picture, for members of its organisation; never sniffed as anything but
    the image type it was re-encoded to."""
    member = member_for_user(user=request.user)
    reward = Reward.objects.filter(pk=pk).first()
    if (
        member is None
        or reward is None
        or reward.organisation_id != member.organisation_id
        or not reward.picture
    ):
        raise Http404
    response = FileResponse(
        reward.picture.open("rb"), content_type=reward.picture_type or "application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- request (the flow's start) -------------------------------------------------------------


class RequestForm(forms.Form):
    reward = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label=gettext_lazy("note for HR (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RedemptionStartView(View):
    template_name = "flows/redemption_start.html"

    def _reward(self, request: HttpRequest, raw: Any) -> Reward:
        reward = reward_for_request(user=request.user, reward_id=raw)
        if reward is None:
            raise Http404
        return reward

    def _render(self, request: HttpRequest, reward: Reward, form: RequestForm) -> HttpResponse:
        member = member_for_user(user=request.user)
        assert member is not None
        refusal = reward_refusal(
            reward=reward,
            member=member,
            roles=user_roles(user=request.user),
            today=organisation_today(member.organisation),
        )
        if refusal is None and reward.stock < 1:
            refusal = _("“%(reward)s” is out of stock.") % {"reward": reward.name}
        return render(
            request,
            self.template_name,
            {
                "reward": reward,
                "form": form,
                "refusal": refusal,
                "redeemable": _redeemable(member),
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        reward = self._reward(request, request.GET.get("reward"))
        return self._render(request, reward, RequestForm(initial={"reward": reward.pk}))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        once = Once(request, "redemption", reverse(LIST_URL))
        repeat = once.repeat()
        if repeat is not None:
            return repeat
        reward = self._reward(request, request.POST.get("reward"))
        form = RequestForm(request.POST)
        if not form.is_valid():
            return once.repeat() or self._render(request, reward, form)
        activation = request.activation  # type: ignore[attr-defined]
        try:
            # one savepoint: a refusal (no stock, too few points) leaves no claim behind
            with transaction.atomic():
                repeat = once.claim()
                if repeat is not None:
                    return repeat
                redemption = redemption_request(
                    user=request.user, reward_id=reward.pk, note=form.cleaned_data["note"]
                )
        except ValidationError as error:
            form.add_error(None, error)
            return once.repeat() or self._render(request, reward, form)
        activation.process.save()
        redemption.process = activation.process
        redemption.save(update_fields=["process"])
        activation.execute()
        spent = _("%(points)s points were spent on %(reward)s; HR will approve it.") % {
            "points": redemption.points,
            "reward": reward.name,
        }
        once.done(reverse(LIST_URL), spent)
        messages.success(request, spent)
        return HttpResponseRedirect(reverse(LIST_URL))


# --- HR's tasks -----------------------------------------------------------------------------


class DecisionForm(forms.Form):
    """One step's choice and reason, labelled in the step's own words."""

    def __init__(
        self,
        *args: Any,
        choices: list[tuple[str, Any]],
        decision_label: Any,
        reason_label: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["decision"] = forms.ChoiceField(
            label=decision_label, choices=choices, widget=forms.RadioSelect
        )
        self.fields["reason"] = forms.CharField(label=reason_label, required=False, max_length=500)


def _task_redemption(request: HttpRequest) -> Redemption:
    redemption: Redemption = request.activation.process.redemption  # type: ignore[attr-defined]
    return redemption


#: What HR is told once a decision is recorded, by decision (``%(member)s``,
#: ``%(reward)s``, ``%(points)s``).
DONE_MESSAGES = {
    "approve": gettext_lazy("Approved: %(member)s's %(reward)s waits to be handed over."),
    "fulfil": gettext_lazy("Recorded: %(reward)s was handed over to %(member)s."),
    "reject": gettext_lazy("Rejected: %(points)s points were refunded to %(member)s."),
}


class _DecisionView(View):
    """HR decides on a redemption; nobody decides on their own. Each step names itself:
    its title, the choice's label, the reason's label and the button (``flows/
    redemption_decide.html``), and the message once recorded (``DONE_MESSAGES``)."""

    template_name = "flows/redemption_decide.html"
    choices: list[tuple[str, Any]] = []
    title: Any = ""
    decision_label: Any = ""
    reason_label: Any = ""
    submit_label: Any = ""

    def _redemption(self, request: HttpRequest) -> Redemption:
        redemption = _task_redemption(request)
        member = member_for_user(user=request.user)
        if member is not None and member.pk == redemption.member_id:
            raise PermissionDenied
        return redemption

    def _form(self, data: Any = None) -> DecisionForm:
        return DecisionForm(
            data,
            choices=self.choices,
            decision_label=self.decision_label,
            reason_label=self.reason_label,
        )

    def _render(self, request: HttpRequest, form: DecisionForm) -> HttpResponse:
        redemption = self._redemption(request)
        return render(
            request,
            self.template_name,
            {
                "redemption": redemption,
                "form": form,
                "title": self.title,
                "submit_label": self.submit_label,
                "redeemable": _redeemable(redemption.member),
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self._render(request, self._form())

    def decide(self, redemption: Redemption, user: Any, decision: str) -> None:
        raise NotImplementedError

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        redemption = self._redemption(request)
        form = self._form(request.POST)
        if not form.is_valid():
            return self._render(request, form)
        decision = form.cleaned_data["decision"]
        try:
            if decision == "reject":
                redemption_reject(
                    redemption=redemption, user=request.user, reason=form.cleaned_data["reason"]
                )
            else:
                self.decide(redemption, request.user, decision)
        except ValidationError as error:
            form.add_error(None, error)
            return self._render(request, form)
        activation = request.activation  # type: ignore[attr-defined]
        activation.execute()
        messages.success(
            request,
            str(DONE_MESSAGES[decision])
            % {
                "member": redemption.member.name,
                "reward": redemption.reward.name,
                "points": redemption.points,
            },
        )
        return HttpResponseRedirect(activation.get_success_url(request))


class RedemptionApproveView(_DecisionView):
    choices = [
        ("approve", gettext_lazy("approve")),
        ("reject", gettext_lazy("reject and refund")),
    ]
    title = gettext_lazy("Approve the redemption")
    decision_label = gettext_lazy("decision")
    reason_label = gettext_lazy("reason (needed to reject)")
    submit_label = gettext_lazy("Record the decision")

    def decide(self, redemption: Redemption, user: Any, decision: str) -> None:
        redemption_approve(redemption=redemption, user=user)


class RedemptionFulfilView(_DecisionView):
    choices = [
        ("fulfil", gettext_lazy("handed over")),
        ("reject", gettext_lazy("cannot be fulfilled: reject and refund")),
    ]
    title = gettext_lazy("Fulfil the redemption")
    decision_label = gettext_lazy("hand-out")
    reason_label = gettext_lazy("reason (needed if it cannot be handed over)")
    submit_label = gettext_lazy("Record the hand-out")

    def decide(self, redemption: Redemption, user: Any, decision: str) -> None:
        redemption_fulfil(redemption=redemption, user=user)


# --- lists and the member's cancellation ----------------------------------------------------


class RedemptionListView(ListView):
    """The member's redemptions (HR: the organisation's), newest first."""

    template_name = "flows/redemption_list.html"
    context_object_name = "redemptions"
    paginate_by = 30

    def get_queryset(self) -> Any:
        return (
            redemption_visible_to(user=self.request.user)
            .select_related("member", "reward")
            .order_by("-created_at", "-pk")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        member = member_for_user(user=self.request.user)
        context["member"] = member
        context["redeemable"] = _redeemable(member)
        return context


class WithdrawForm(ConfirmedForm):
    """The member's cancellation (``ConfirmedForm``)."""

    unconfirmed = gettext_lazy(
        "Nothing was cancelled: to cancel, press “Yes, cancel and refund” on this page."
    )


@require_http_methods(["GET", "POST"])
def redemption_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """The member cancels their own redemption before it is fulfilled: a GET asks them to
    confirm (what is refunded, that it cannot be undone); the confirmed POST cancels."""
    member = member_for_user(user=request.user)
    redemption = (
        redemption_visible_to(user=request.user)
        .filter(pk=pk, member=member)
        .select_related("member", "reward")
        .first()
        if member is not None
        else None
    )
    if redemption is None:
        raise Http404
    data = request.POST if request.method == "POST" else None
    form = WithdrawForm(data)
    if form.is_valid():
        try:
            redemption_cancel(
                redemption=redemption, user=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Cancelled: %(points)s points were refunded.") % {"points": redemption.points},
            )
        return HttpResponseRedirect(reverse(LIST_URL))
    return render(
        request,
        "flows/redemption_withdraw.html",
        {"redemption": redemption, "form": form, "redeemable": _redeemable(member)},
    )
