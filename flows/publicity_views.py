"""Pages of the summary, sign-off, publicity and appeal steps. Forms validate; the services
in ``flows.publicity`` decide and record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import ListView

from flows.evidence import CheckedEvidence, evidence_check_uploads, evidence_store
from flows.forms import EvidenceField
from flows.models import (
    Appeal,
    ItemStatus,
    Ruling,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.once import Once
from flows.publicity import (
    FLAG_LABELS,
    appeal_lodge,
    appeal_may_lodge,
    appeal_reexamine,
    appeal_reexaminer,
    appeal_rule,
    committee_members,
    may_run_summary,
    publicity_for,
    summary_exclude,
    summary_open,
    summary_sign,
    summary_submit,
    summary_visible_to,
)
from points.models import OrgUnit
from points.pdf import html_in_parts, pdf_from_parts
from points.periods import organisation_today
from points.roles import Role
from points.selectors.ledger import RankGroup
from points.selectors.org import member_for_user, member_name_of, user_roles
from points.widgets import IsoDateInput

__all__ = ["may_run_summary"]


# --- summary ------------------------------------------------------------------------------


class SummaryStartForm(forms.Form):
    scope = forms.ModelChoiceField(queryset=OrgUnit.objects.none(), label=gettext_lazy("scope"))
    on = forms.DateField(label=gettext_lazy("a day in the period"), widget=IsoDateInput)

    def __init__(self, *args: Any, organisation: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["scope"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = OrgUnit.objects.filter(organisation=organisation).order_by("path")
        # A scope is required: no "---------" choice; the whole organisation (its top unit,
        # first in the tree) is chosen unless HR picks a unit.
        field.empty_label = None
        field.initial = field.queryset.filter(parent=None).values_list("pk", flat=True).first()
        self.fields["on"].initial = organisation_today(organisation)


class SummaryStartView(View):
    template_name = "flows/summary_start.html"

    def _form(self, request: HttpRequest, data: Any = None) -> SummaryStartForm:
        member = member_for_user(user=request.user)
        assert member is not None
        return SummaryStartForm(data, organisation=member.organisation)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return render(request, self.template_name, {"form": self._form(request)})

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        # HR's second tap would otherwise be told the pool is empty (the first tap has just
        # gathered it): it is told the first one acted, and goes where the first went
        once = Once(request, "summary", reverse("publicity:summary:index"))
        repeat = once.repeat()
        if repeat is not None:
            return repeat
        form = self._form(request, request.POST)
        if not form.is_valid():
            return once.repeat() or render(request, self.template_name, {"form": form})
        activation = request.activation  # type: ignore[attr-defined]
        try:
            # one savepoint: a refusal (an empty pool) leaves no claim behind
            with transaction.atomic():
                repeat = once.claim()
                if repeat is not None:
                    return repeat
                summary = summary_open(
                    user=request.user, scope=form.cleaned_data["scope"], on=form.cleaned_data["on"]
                )
        except ValidationError as error:
            form.add_error(None, error)
            return once.repeat() or render(request, self.template_name, {"form": form})
        activation.process.save()
        summary.process = activation.process
        summary.save(update_fields=["process"])
        activation.execute()
        went_to = activation.get_success_url(request)
        done = _("The summary gathered %(count)s items.") % {"count": summary.items.count()}
        once.done(went_to, done)
        messages.success(request, done)
        return HttpResponseRedirect(went_to)


class ExcludeForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(label=gettext_lazy("reason"), max_length=500)


def _flag_labels(item: SummaryItem) -> list[str]:
    return [str(FLAG_LABELS.get(flag, flag)) for flag in item.flags]


class SummaryPrepareView(View):
    """HR checks the flagged items, excludes what must not count, and submits."""

    template_name = "flows/summary_prepare.html"

    def _render(self, request: HttpRequest, exclude: ExcludeForm | None = None) -> HttpResponse:
        summary: Summary = request.activation.process.summary  # type: ignore[attr-defined]
        items = list(
            summary.items.select_related("member__unit", "rule_item", "approved_by").order_by(
                "member__name", "event_date", "pk"
            )
        )
        for item in items:
            item.flag_labels = _flag_labels(item)  # type: ignore[attr-defined]
        return render(
            request,
            self.template_name,
            {
                "summary": summary,
                "items": items,
                "flagged": sum(1 for i in items if i.flags and i.status != ItemStatus.EXCLUDED),
                "exclude": exclude or ExcludeForm(),
                "activation": request.activation,  # type: ignore[attr-defined]
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self._render(request)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        summary: Summary = request.activation.process.summary  # type: ignore[attr-defined]
        activation = request.activation  # type: ignore[attr-defined]
        if "exclude" in request.POST:
            form = ExcludeForm(request.POST)
            if not form.is_valid():
                return self._render(request, form)
            try:
                summary_exclude(
                    summary=summary,
                    item_id=form.cleaned_data["item"],
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                form.add_error(None, error)
                return self._render(request, form)
            messages.success(request, _("The item was excluded and sent back to its reviewer."))
            return HttpResponseRedirect(request.path)
        try:
            summary_submit(summary=summary, user=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return HttpResponseRedirect(request.path)
        activation.execute()
        messages.success(request, _("The summary was sent to the committee for sign-off."))
        return HttpResponseRedirect(activation.get_success_url(request))


class SignForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("decision"),
        choices=[("approve", gettext_lazy("sign off")), ("reject", gettext_lazy("reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=gettext_lazy("reason"), required=False, max_length=500)


def signoff_waiting(*, user: Any) -> Any:
    """Summaries of the user's organisation waiting for their vote in the current round."""
    member = member_for_user(user=user)
    if member is None or Role.COMMITTEE not in user_roles(user=user):
        return Summary.objects.none()
    voted = SignOff.objects.filter(summary=OuterRef("pk"), round=OuterRef("round"), user=user)
    return Summary.objects.filter(
        organisation=member.organisation, status=SummaryStatus.SIGNOFF
    ).exclude(Exists(voted))


class SignOffListView(ListView):
    template_name = "flows/signoff_list.html"
    context_object_name = "summaries"

    def get_queryset(self) -> Any:
        return signoff_waiting(user=self.request.user).select_related("scope", "created_by")


class SignOffView(View):
    """One committee member's vote on the current round of a summary."""

    template_name = "flows/signoff.html"

    def _summary(self, request: HttpRequest, pk: int) -> Summary:
        member = member_for_user(user=request.user)
        if member is None or Role.COMMITTEE not in user_roles(user=request.user):
            raise PermissionDenied
        return get_object_or_404(
            Summary.objects.select_related("scope", "created_by"),
            pk=pk,
            organisation=member.organisation,
        )

    def _render(self, request: HttpRequest, summary: Summary, form: SignForm) -> HttpResponse:
        publicity = publicity_for(summary=summary)
        votes = list(
            summary.signoffs.filter(round=summary.round)
            .select_related("user")
            .annotate(user_name=member_name_of("user"))
        )
        return render(
            request,
            self.template_name,
            {
                "summary": summary,
                "publicity": publicity,
                "form": form,
                "votes": votes,
                "my_vote": next((v for v in votes if v.user_id == request.user.pk), None),
                "voters": committee_members(organisation=summary.organisation).count(),
            },
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self._render(request, self._summary(request, pk), SignForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        summary = self._summary(request, pk)
        form = SignForm(request.POST)
        if not form.is_valid():
            return self._render(request, summary, form)
        try:
            decided = summary_sign(
                summary=summary,
                user=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self._render(request, summary, form)
        if decided is True:
            messages.success(request, _("Signed off: the summary is now published."))
        elif decided is False:
            messages.success(request, _("The summary went back to HR with the reasons."))
        else:
            messages.success(request, _("Your vote was recorded."))
        return HttpResponseRedirect(reverse("publicity:board:signoffs"))


# --- publicity ----------------------------------------------------------------------------


class PublicityListView(ListView):
    """Published batches the user may see: in their window, then posted."""

    template_name = "flows/publicity_list.html"
    context_object_name = "summaries"
    paginate_by = 30

    def get_queryset(self) -> Any:
        return (
            summary_visible_to(user=self.request.user)
            .filter(status__in=[SummaryStatus.PUBLICITY, SummaryStatus.POSTED])
            .select_related("scope")
            .annotate(
                item_count=Count(
                    "items", filter=~Q(items__status=ItemStatus.EXCLUDED), distinct=True
                ),
                open_appeals=Count(
                    "items__appeals", filter=~Q(items__appeals__status="ruled"), distinct=True
                ),
            )
            .order_by("-published_at", "-pk")
        )


def _visible_summary(request: HttpRequest, pk: int) -> Summary:
    summary = (
        summary_visible_to(user=request.user)
        .filter(status__in=[SummaryStatus.PUBLICITY, SummaryStatus.POSTED])
        .select_related("organisation", "scope")
        .filter(pk=pk)
        .first()
    )
    if summary is None:
        raise Http404
    return summary


def publicity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _visible_summary(request, pk)
    publicity = publicity_for(summary=summary)
    window_open = summary.status == SummaryStatus.PUBLICITY and timezone.now() < (
        summary.window_ends_at or timezone.now()
    )
    return render(
        request,
        "flows/publicity_detail.html",
        {
            "summary": summary,
            "publicity": publicity,
            "window_open": window_open,
            "leaders": RankGroup.LEADERS,
            "appeal_url": reverse("publicity:appeal:start:execute"),
        },
    )


def publicity_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    summary = _visible_summary(request, pk)
    pdf = publicity_notice_pdf(summary=summary)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="publicity-{summary.pk}-{summary.period_start:%Y%m%d}.pdf"'
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


#: The publicity notice's paper.
PUBLICITY_PAGE = "size: A4; margin: 18mm 14mm 16mm"
#: From this many rows on, the notice is laid out in parts side by side.
PUBLICITY_ROWS_PER_PART = 250


def publicity_notice_parts(*, summary: Summary) -> list[str]:
    """The notice's HTML: a long one in parts (``html_in_parts``), a member's rows never
    split."""
    publicity = publicity_for(summary=summary)
    return html_in_parts(
        template="flows/pdf/publicity.html",
        context={
            "summary": summary,
            "publicity": publicity,
            "generated_at": timezone.now(),
            "leaders": RankGroup.LEADERS,
            "page_rule": PUBLICITY_PAGE,
        },
        rows_name="rows",
        rows=publicity.rows,
        sizes=[len(row.items) + 1 for row in publicity.rows],
        min_rows=PUBLICITY_ROWS_PER_PART,
    )


def publicity_notice_pdf(*, summary: Summary, fetcher: Any = None) -> bytes:
    """The publicity notice (公示通知) as PDF: the same content as the page. A long one is
    laid out in parts side by side (``pdf_from_parts``)."""
    return pdf_from_parts(
        publicity_notice_parts(summary=summary), page_rule=PUBLICITY_PAGE, fetcher=fetcher
    )


# --- appeals ------------------------------------------------------------------------------


class AppealForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4})
    )
    evidence = EvidenceField(label=gettext_lazy("evidence (photos or PDF)"), required=False)

    def __init__(self, *args: Any, organisation: Any, uploader: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.uploader = uploader
        self.checked_evidence: list[CheckedEvidence] = []

    def clean_evidence(self) -> list[Any]:
        files: list[Any] = self.cleaned_data.get("evidence") or []
        self.checked_evidence = evidence_check_uploads(
            uploads=files, organisation=self.organisation, user=self.uploader
        )
        return files


#: Said to the appellant when the appeal concerns every active HR officer.
NO_REEXAMINER = gettext_lazy(
    "No HR officer whom this appeal does not concern can re-examine it yet: it waits in HR's "
    "queue, and the administrators were asked to appoint another HR officer."
)


class AppealStartView(View):
    template_name = "flows/appeal_start.html"

    def _item(self, request: HttpRequest, raw: Any) -> SummaryItem:
        try:
            pk = int(raw)
        except (TypeError, ValueError):
            raise Http404 from None
        item = (
            SummaryItem.objects.select_related("summary__organisation", "member", "rule_item")
            .filter(pk=pk)
            .first()
        )
        if (
            item is None
            or item.status == ItemStatus.EXCLUDED
            or not summary_visible_to(user=request.user)
            .filter(pk=item.summary_id, status__in=[SummaryStatus.PUBLICITY, SummaryStatus.POSTED])
            .exists()
        ):
            raise Http404  # only published items of a batch the user may see
        return item

    def _render(self, request: HttpRequest, item: SummaryItem, form: AppealForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {"item": item, "form": form, "refusal": appeal_may_lodge(user=request.user, item=item)},
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        item = self._item(request, request.GET.get("item"))
        form = AppealForm(
            initial={"item": item.pk},
            organisation=item.summary.organisation,
            uploader=request.user,
        )
        return self._render(request, item, form)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        item = self._item(request, request.POST.get("item"))
        board = reverse("publicity:board:detail", args=[item.summary_id])
        once = Once(request, "appeal", board)
        repeat = once.repeat()
        if repeat is not None:
            return repeat
        form = AppealForm(
            request.POST,
            request.FILES,
            organisation=item.summary.organisation,
            uploader=request.user,
        )
        if not form.is_valid():
            return once.repeat() or self._render(request, item, form)
        activation = request.activation  # type: ignore[attr-defined]
        try:
            # one savepoint: a refusal (the item is under appeal already) leaves no claim
            with transaction.atomic():
                repeat = once.claim()
                if repeat is not None:
                    return repeat
                appeal = appeal_lodge(
                    user=request.user, item=item, reason=form.cleaned_data["reason"]
                )
        except ValidationError as error:
            form.add_error(None, error)
            return once.repeat() or self._render(request, item, form)
        evidence_store(checked=form.checked_evidence, user=request.user, appeal=appeal)
        activation.process.save()
        appeal.process = activation.process
        appeal.save(update_fields=["process"])
        activation.execute()
        lodged = _("Your appeal was lodged; the item is held until the ruling.")
        if appeal_reexaminer(appeal=appeal) is None:  # one message: the page shows the last
            lodged = f"{lodged} {NO_REEXAMINER}"
            messages.warning(request, lodged)
        else:
            messages.success(request, lodged)
        once.done(board, lodged)
        return HttpResponseRedirect(board)


def _task_appeal(request: HttpRequest) -> Appeal:
    appeal: Appeal = request.activation.process.appeal  # type: ignore[attr-defined]
    return appeal


class FindingsForm(forms.Form):
    findings = forms.CharField(
        label=gettext_lazy("findings of the re-examination"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class _AppealStepView(View):
    """A task page of the appeal flow: the appeal with its evidence and one form; a valid
    form goes to the step's service, whose refusals come back onto the form."""

    template_name = ""
    form_class: type[forms.Form] = forms.Form
    done_message: Any = ""

    def act(self, appeal: Appeal, user: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError  # each step names its service

    def _render(self, request: HttpRequest, form: forms.Form) -> HttpResponse:
        appeal = _task_appeal(request)
        return render(
            request,
            self.template_name,
            {
                "appeal": appeal,
                "item": appeal.item,
                "form": form,
                "evidence": appeal.evidence.all(),
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self._render(request, self.form_class())

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = self.form_class(request.POST)
        if not form.is_valid():
            return self._render(request, form)
        try:
            self.act(_task_appeal(request), request.user, form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
            return self._render(request, form)
        activation = request.activation  # type: ignore[attr-defined]
        activation.execute()
        messages.success(request, self.done_message)
        return HttpResponseRedirect(activation.get_success_url(request))


class AppealReexamineView(_AppealStepView):
    template_name = "flows/appeal_reexamine.html"
    form_class = FindingsForm
    done_message = gettext_lazy("The findings were recorded; the committee rules next.")

    def act(self, appeal: Appeal, user: Any, data: dict[str, Any]) -> None:
        appeal_reexamine(appeal=appeal, user=user, findings=data["findings"])


class RulingForm(forms.Form):
    ruling = forms.ChoiceField(
        label=gettext_lazy("ruling"), choices=Ruling.choices, widget=forms.RadioSelect
    )
    points = forms.IntegerField(
        label=gettext_lazy("amended points per unit"), required=False, min_value=0
    )
    reason = forms.CharField(
        label=gettext_lazy("reasons for the ruling"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AppealRuleView(_AppealStepView):
    template_name = "flows/appeal_rule.html"
    form_class = RulingForm
    done_message = gettext_lazy("The ruling was recorded.")

    def act(self, appeal: Appeal, user: Any, data: dict[str, Any]) -> None:
        appeal_rule(
            appeal=appeal,
            user=user,
            ruling=data["ruling"],
            reason=data["reason"],
            points=data["points"],
        )


class AppealListView(ListView):
    template_name = "flows/appeal_list.html"
    context_object_name = "appeals"
    paginate_by = 30

    def get_queryset(self) -> Any:
        from flows.publicity import appeal_visible_to

        return (
            appeal_visible_to(user=self.request.user)
            .select_related("appellant", "item__member", "item__rule_item", "item__summary__scope")
            .order_by("-created_at", "-pk")
        )


class SummaryListView(ListView):
    template_name = "flows/summary_list.html"
    context_object_name = "summaries"
    paginate_by = 30

    def get_queryset(self) -> Any:
        return (
            summary_visible_to(user=self.request.user)
            .select_related("scope", "created_by")
            .annotate(created_by_name=member_name_of("created_by"))
            .order_by("-created_at", "-pk")
        )


def home_context(user: Any) -> dict[str, Any]:
    """What the home page shows of this cycle: summaries waiting for the user's vote."""
    return {"signoffs": signoff_waiting(user=user).count()}
