"""Views of the declaration flow. They hold no rules: forms validate, services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseFormSet, formset_factory
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_http_methods
from django.views.generic import ListView

from flows.caps import member_caps
from flows.choices import Offered
from flows.evidence import MB, evidence_uploaded_today
from flows.forms import AwardNoticeForm, ConfirmedForm, DeclarationItemForm
from flows.member_search import offer_by_search, search_above
from flows.models import Declaration, Evidence, NoticeStatus, NotificationPreference
from flows.once import Once
from flows.services import (
    ReviewAction,
    declarable_scope,
    declaration_is_declarant,
    declaration_may_submit_for,
    declaration_may_withdraw,
    declaration_resubmit,
    declaration_review,
    declaration_submit,
    declaration_visible_to,
    declaration_withdraw,
    nobody_could_review,
    notice_issue,
    notice_scope,
    notice_sign,
    notice_visible_to,
)
from points.ids import id_from
from points.models import Member, MemberStatus
from points.periods import organisation_today
from points.selectors.org import (
    member_for_user,
    member_name_of,
    person_name,
)

MAX_ITEMS = 5


def may_declare(user: Any) -> bool:
    member = member_for_user(user=user)
    return member is not None and member.status == MemberStatus.ACTIVE


class ItemFormSet(BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, member: Member, uploader: Any = None, **kwargs: Any) -> None:
        self.member = member
        self.uploader = uploader or member.user
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"member": self.member, "uploader": self.uploader}

    def filled_forms(self) -> list[DeclarationItemForm]:
        return [form for form in self.forms if form.has_changed()]

    def clean(self) -> None:
        if not any(form.has_changed() for form in self.forms):
            raise ValidationError(
                _("Add at least one item: choose its rule item and fill in its date and place.")
            )
        # Each item checked its own files against the quota; together they must fit too.
        together = sum(f.size for form in self.forms for f in form.checked_evidence)
        if together:
            policy = self.member.organisation.policy
            if evidence_uploaded_today(user=self.uploader) + together > (
                policy.upload_quota_mb_per_day * MB
            ):
                raise ValidationError(
                    _("These files would pass your upload quota of %(mb)s MB a day.")
                    % {"mb": policy.upload_quota_mb_per_day},
                    code="quota",
                )


def _item_formset(extra: int) -> type[ItemFormSet]:
    formset: type[ItemFormSet] = formset_factory(  # type: ignore[assignment]
        DeclarationItemForm,
        formset=ItemFormSet,
        extra=extra,
        max_num=MAX_ITEMS,
        absolute_max=MAX_ITEMS,
    )
    return formset


ItemForms = _item_formset(extra=1)


class DeclarantForm(forms.Form):
    """Whom a declaration is for. A recorder's long list is searched (flows.member_search);
    a short one lists the members somebody could review."""

    member = forms.ModelChoiceField(
        queryset=Member.objects.none(), label=gettext_lazy("declare for")
    )

    def __init__(self, *args: Any, user: Any, chosen: Member | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        scope = declarable_scope(user=user)
        field = self.fields["member"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = scope
        count = scope.count()
        if chosen is not None:
            field.initial = chosen.pk
        if count > 1:
            field.widget.attrs["data-declare-for"] = ""
            field.help_text = _("The rules and caps below are this member's: choose them first.")
        offer_by_search(field, purpose="declare", count=count)
        if count <= search_above():

            def reviewable() -> QuerySet[Member]:
                return scope.exclude(pk__in=nobody_could_review(user=user, members=list(scope)))

            field.widget.choices = Offered(field, reviewable)

    def clean_member(self) -> Member:
        member: Member = self.cleaned_data["member"]
        if nobody_could_review(user=self.user, members=[member]):
            raise ValidationError(
                _("Nobody above %(member)s can review this declaration; ask HR.")
                % {"member": member.name},
                code="no_reviewer",
            )
        return member


def _caps(member: Member) -> dict[str, Any]:
    """The member's capped rules for the declaration page: those already used (shown), and
    the others (folded away: a catalog of 48 capped rules is three screens on a phone)."""
    caps = member_caps(member=member, day=organisation_today(member.organisation))
    return {
        "caps": caps,
        "caps_used": [cap for cap in caps if cap.used],
        "caps_unused": [cap for cap in caps if not cap.used],
    }


class DeclarationStartView(View):
    """Start a declaration: one form per item, evidence from the camera on a phone."""

    template_name = "flows/declaration_start.html"

    def _context(
        self, request: HttpRequest, declarant: DeclarantForm, items: Any, member: Member
    ) -> Any:
        return render(
            request,
            self.template_name,
            {
                "declarant": declarant,
                "items": items,
                "member": member,
                "own": member.user_id == request.user.pk,
                **_caps(member),
                "activation": request.activation,  # type: ignore[attr-defined]
            },
        )

    @staticmethod
    def _chosen(request: HttpRequest) -> Member:
        """Whom the page declares for: the member chosen (``?member=``) if the user may
        declare for them, else the user. The item forms offer that member's rules and the
        page shows that member's caps."""
        me = member_for_user(user=request.user)
        assert me is not None  # may_declare
        wanted = id_from(request.GET.get("member", ""))
        if wanted is not None and wanted != me.pk:
            member = declarable_scope(user=request.user).filter(pk=wanted).first()
            if member is not None and not nobody_could_review(user=request.user, members=[member]):
                return member
        return me

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = self._chosen(request)
        declarant = DeclarantForm(user=request.user, chosen=member)
        items = ItemForms(member=member, prefix="items")
        return self._context(request, declarant, items, member)

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        once = Once(request, "declaration", reverse("declarations:declaration:index"))
        repeat = once.repeat()
        if repeat is not None:
            return repeat
        chosen = self._chosen(request)
        declarant = DeclarantForm(request.POST, user=request.user, chosen=chosen)
        if not declarant.is_valid():
            # Refused (say the member's leader left since the page was drawn): the page
            # shows the member its rules and caps are for, with the refusal, and keeps
            # the items typed.
            refused = declarant.errors.get("member")
            data = request.POST.copy()
            data["member"] = str(chosen.pk)
            declarant = DeclarantForm(data, user=request.user, chosen=chosen)
            if declarant.is_valid() and refused:
                declarant.add_error("member", refused)
            items = ItemForms(
                request.POST, request.FILES, member=chosen, uploader=request.user, prefix="items"
            )
            return once.repeat() or self._context(request, declarant, items, chosen)
        member = declarant.cleaned_data["member"]
        items = ItemForms(
            request.POST, request.FILES, member=member, uploader=request.user, prefix="items"
        )
        if not items.is_valid():
            # (a refusal may be the first sending's doing, say its uploads filling the day's
            # quota: if the first has been kept meanwhile, this one is its repeat)
            return once.repeat() or self._context(request, declarant, items, member)
        if not declaration_may_submit_for(user=request.user, member=member):
            raise PermissionDenied
        activation = request.activation  # type: ignore[attr-defined]
        try:
            # one savepoint: a refusal leaves neither the claim nor a process behind
            with transaction.atomic():
                repeat = once.claim()
                if repeat is not None:
                    return repeat
                activation.process.save()
                declaration = declaration_submit(
                    user=request.user,
                    member=member,
                    item_forms=items.filled_forms(),
                    process=activation.process,
                )
        except ValidationError as error:
            activation.process.pk = None
            declarant.add_error(None, error)
            return once.repeat() or self._context(request, declarant, items, member)
        activation.execute()
        done = activation.get_success_url(request)
        reviewer = person_name(user=declaration.reviewer)
        if member.user_id == request.user.pk:
            sent = _("Your declaration was sent to %(reviewer)s.") % {"reviewer": reviewer}
        else:
            sent = _("The declaration for %(member)s was sent to %(reviewer)s.") % {
                "member": member.name,
                "reviewer": reviewer,
            }
        once.done(done, sent)
        messages.success(request, sent)
        return HttpResponseRedirect(done)


class ReviewForm(forms.Form):
    action = forms.ChoiceField(
        label=gettext_lazy("decision"),
        choices=[
            (ReviewAction.APPROVE, gettext_lazy("approve")),
            (ReviewAction.RETURN, gettext_lazy("return for revision")),
            (ReviewAction.REJECT, gettext_lazy("reject")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("reason"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Needed to reject, to return or to adjust points."),
    )

    def __init__(self, *args: Any, declaration: Declaration, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declaration = declaration
        for item in declaration.items.select_related("rule_item"):
            rule = item.rule_item
            if not rule.is_fixed:
                self.fields[f"points_{item.pk}"] = forms.IntegerField(
                    label=_("Points per unit for “%(rule)s”, to adjust (%(min)s–%(max)s)")
                    % {"rule": rule.name, "min": rule.points_min, "max": rule.points_max},
                    initial=item.approved_points or item.points,
                    required=False,
                    min_value=rule.points_min,
                    max_value=rule.points_max,
                )
        # the points to adjust come before the reason that any adjustment needs
        self.order_fields([name for name in self.fields if name != "reason"])

    def adjusted(self) -> dict[int, int]:
        return {
            int(name.removeprefix("points_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("points_") and value is not None
        }


def _task_declaration(request: HttpRequest) -> Declaration:
    declaration: Declaration = request.activation.process.declaration  # type: ignore[attr-defined]
    return declaration


class DeclarationReviewView(View):
    """The reviewer's task page: the declaration's status alone, then what happened to it
    before (returned with a reason, resubmitted, escalated), each with its date: the
    declaration keeps only the latest reason, which on a resubmitted one is the old return
    reason, not part of the status."""

    template_name = "flows/declaration_review.html"
    #: The audit actions the reviewer sees as the declaration's earlier steps.
    history_actions = (
        "declaration.return",
        "declaration.resubmit",
        "declaration.escalate",
        "declaration.escalate_overdue",
    )

    def _history(self, declaration: Declaration) -> list[dict[str, Any]]:
        from points.models import AuditEvent

        events = (
            AuditEvent.objects.filter(
                organisation_id=declaration.organisation_id,
                action__in=self.history_actions,
                data__declaration=declaration.pk,
            )
            .annotate(actor_name=member_name_of("actor"))
            .order_by("created_at", "pk")
        )
        return [
            {
                "action": event.action.removeprefix("declaration."),
                "at": event.created_at,
                "by": event.actor_name or "",  # type: ignore[attr-defined]
                "reason": str(event.data.get("reason") or ""),
            }
            for event in events
        ]

    def _render(self, request: HttpRequest, form: ReviewForm) -> HttpResponse:
        declaration = _task_declaration(request)
        return render(
            request,
            self.template_name,
            {
                "declaration": declaration,
                "history": self._history(declaration),
                "items": declaration.items.select_related("rule_item").prefetch_related("evidence"),
                "form": form,
                "activation": request.activation,  # type: ignore[attr-defined]
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self._render(request, ReviewForm(declaration=_task_declaration(request)))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        declaration = _task_declaration(request)
        form = ReviewForm(request.POST, declaration=declaration)
        if not form.is_valid():
            return self._render(request, form)
        try:
            declaration_review(
                declaration=declaration,
                user=request.user,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
                adjusted=form.adjusted(),
                process=request.activation.process,  # type: ignore[attr-defined]
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self._render(request, form)
        activation = request.activation  # type: ignore[attr-defined]
        activation.execute()
        messages.success(request, _("Your decision was recorded."))
        return HttpResponseRedirect(activation.get_success_url(request))


class DeclarationReviseView(View):
    template_name = "flows/declaration_revise.html"

    def _formset(self, request: HttpRequest, declaration: Declaration, data: Any = None) -> Any:
        formset = _item_formset(extra=0)
        items = list(declaration.items.order_by("pk"))
        forms_ = formset(
            data,
            request.FILES or None,
            member=declaration.member,
            uploader=request.user,
            prefix="items",
            initial=[{} for _ in items],
        )
        for form, item in zip(forms_.forms, items, strict=False):
            form.instance = item
            if data is None:
                form.initial = {
                    f: getattr(item, f) for f in DeclarationItemForm.Meta.fields if f != "rule_item"
                } | {"rule_item": item.rule_item_id}
        return forms_

    def _render(self, request: HttpRequest, declaration: Declaration, items: Any) -> Any:
        return render(
            request,
            self.template_name,
            {
                "declaration": declaration,
                "items": items,
                "activation": request.activation,  # type: ignore[attr-defined]
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        declaration = _task_declaration(request)
        return self._render(request, declaration, self._formset(request, declaration))

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        declaration = _task_declaration(request)
        items = self._formset(request, declaration, request.POST)
        for form in items.forms:
            form.empty_permitted = False
        if not all(form.is_valid() for form in items.forms):
            return self._render(request, declaration, items)
        declaration_resubmit(declaration=declaration, user=request.user, item_forms=items.forms)
        activation = request.activation  # type: ignore[attr-defined]
        activation.execute()
        messages.success(
            request,
            _("The declaration went back to %(reviewer)s.")
            % {"reviewer": person_name(user=declaration.reviewer)},
        )
        return HttpResponseRedirect(activation.get_success_url(request))


class DeclarationWithdrawForm(ConfirmedForm):
    """The declarant's withdrawal (``ConfirmedForm``)."""

    unconfirmed = gettext_lazy(
        "Nothing was withdrawn: to withdraw, press “Yes, withdraw it” on this page."
    )


@require_http_methods(["GET", "POST"])
def declaration_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The member, or whoever declared for them, takes back a declaration not decided yet:
    a GET asks them to confirm; the confirmed POST withdraws it. Anyone else: 404."""
    declaration = (
        declaration_visible_to(user=request.user).filter(pk=pk).select_related("member").first()
    )
    if declaration is None or not declaration_is_declarant(
        declaration=declaration, user=request.user
    ):
        raise Http404
    went_to = (
        reverse("declarations:declaration:process_detail", args=[declaration.process_id])
        if declaration.process_id is not None
        else reverse("declarations:declaration:index")
    )
    data = request.POST if request.method == "POST" else None
    form = DeclarationWithdrawForm(data)
    if form.is_valid():
        try:
            declaration_withdraw(
                declaration=declaration, user=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Declaration #%(number)s was withdrawn.") % {"number": declaration.pk},
            )
        return HttpResponseRedirect(went_to)
    return render(
        request,
        "flows/declaration_withdraw.html",
        {
            "declaration": declaration,
            "items": declaration.items.select_related("rule_item")
            .prefetch_related("evidence")
            .order_by("pk"),
            "form": form,
            "may_withdraw": declaration_may_withdraw(declaration=declaration, user=request.user),
            "went_to": went_to,
        },
    )


class MyDeclarationsView(ListView):
    """Declarations the user may see, newest first, with their status."""

    template_name = "flows/declaration_list.html"
    paginate_by = 30

    def get_queryset(self) -> Any:
        return (
            declaration_visible_to(user=self.request.user)
            .select_related("member", "member__unit", "reviewer")
            .annotate(reviewer_name=member_name_of("reviewer"))
            .prefetch_related("items__rule_item")
            .order_by("-created_at", "-pk")
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        for declaration in context["object_list"]:
            declaration.total = sum(item.signed_total for item in declaration.items.all())
            declaration.may_withdraw = declaration_may_withdraw(declaration=declaration, user=user)
        context["may_declare"] = may_declare(user)
        return context


def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    """An evidence file, only for users who may see its declaration or appeal; always an attachment,
    never sniffed as anything else."""
    evidence = get_object_or_404(Evidence.objects.select_related("item"), pk=pk)
    visible: Any
    if evidence.item is not None:
        visible = declaration_visible_to(user=request.user).filter(pk=evidence.item.declaration_id)
    else:
        from flows.publicity import appeal_visible_to

        visible = appeal_visible_to(user=request.user).filter(pk=evidence.appeal_id or 0)
    if not visible.exists():
        raise Http404
    response = FileResponse(
        evidence.file.open("rb"),
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- award notices -------------------------------------------------------------------------


def may_issue_notice(user: Any) -> bool:
    return bool(notice_scope(user=user).exists())


class NoticeStartView(View):
    template_name = "flows/notice_start.html"

    def _form(self, request: HttpRequest, data: Any = None) -> AwardNoticeForm:
        issuer = member_for_user(user=request.user)
        assert issuer is not None
        return AwardNoticeForm(data, issuer=issuer, scope=notice_scope(user=request.user))

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return render(request, self.template_name, {"form": self._form(request)})

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        once = Once(request, "notice", reverse("declarations:awardnotice:index"))
        repeat = once.repeat()
        if repeat is not None:
            return repeat
        form = self._form(request, request.POST)
        if not form.is_valid():
            return once.repeat() or render(request, self.template_name, {"form": form})
        activation = request.activation  # type: ignore[attr-defined]
        try:
            # one savepoint: a refusal leaves neither the claim nor a process behind
            with transaction.atomic():
                repeat = once.claim()
                if repeat is not None:
                    return repeat
                activation.process.save()
                notice = notice_issue(user=request.user, form=form)
                notice.process = activation.process
                notice.save(update_fields=["process"])
        except ValidationError as error:
            activation.process.pk = None
            form.add_error(None, error)
            return once.repeat() or render(request, self.template_name, {"form": form})
        activation.execute()
        went_to = activation.get_success_url(request)
        if notice.status == NoticeStatus.APPROVED:
            done = _("The notice took effect: its points wait in this month's pending pool.")
        else:
            done = _("The notice is above your authority: it was sent to %(signer)s to sign.") % {
                "signer": person_name(user=notice.signer)
            }
        once.done(went_to, done)
        messages.success(request, done)
        return HttpResponseRedirect(went_to)


class SignForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("decision"),
        choices=[("approve", gettext_lazy("approve")), ("reject", gettext_lazy("reject"))],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label=gettext_lazy("reason"), required=False, max_length=500)


class NoticeSignView(View):
    template_name = "flows/notice_sign.html"

    def _render(self, request: HttpRequest, form: SignForm) -> HttpResponse:
        notice = request.activation.process.award_notice  # type: ignore[attr-defined]
        return render(
            request,
            self.template_name,
            {
                "notice": notice,
                "items": notice.items.select_related("member", "rule_item"),
                "form": form,
            },
        )

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return self._render(request, SignForm())

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = SignForm(request.POST)
        if not form.is_valid():
            return self._render(request, form)
        notice = request.activation.process.award_notice  # type: ignore[attr-defined]
        try:
            notice_sign(
                notice=notice,
                user=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error(None, error)
            return self._render(request, form)
        activation = request.activation  # type: ignore[attr-defined]
        activation.execute()
        messages.success(request, _("Your decision was recorded."))
        return HttpResponseRedirect(activation.get_success_url(request))


class NoticeListView(ListView):
    template_name = "flows/notice_list.html"
    paginate_by = 30

    def get_queryset(self) -> Any:
        return (
            notice_visible_to(user=self.request.user)
            .select_related("issuer", "signer")
            .prefetch_related("items__member", "items__rule_item")
            .order_by("-created_at", "-pk")
        )


class NotificationPreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["frequency"]
        widgets = {"frequency": forms.RadioSelect}


def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Each user chooses an e-mail per event or one daily digest."""
    preference, _created = NotificationPreference.objects.get_or_create(user=request.user)
    form = NotificationPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return HttpResponseRedirect(request.path)
    return render(request, "flows/notification_preferences.html", {"form": form})
