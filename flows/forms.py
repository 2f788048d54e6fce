"""Declaration forms: every bad input gets a clear, translated message."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.caps import rule_caps
from flows.choices import Offered
from flows.evidence import CheckedEvidence, evidence_check_uploads
from flows.member_search import offer_by_search
from flows.models import DeclarationItem
from points.models import Member, Organisation, OrgUnit, Period, RuleItem
from points.periods import month_start, organisation_today
from points.selectors.catalog import (
    rule_item_applies_to_unit,
    rule_items_for_any_unit,
    rule_items_for_unit,
    rule_items_marked_for_unit,
)
from points.widgets import IsoDateInput

MAX_QUANTITY = 100  # of one item of a declaration or notice


def check_event_date(day: date, organisation: Organisation) -> date:
    """An event may be declared for today or earlier, in a month that is still open."""
    if day > organisation_today(organisation):
        raise ValidationError(
            _("The date of the event cannot be in the future."), code="future_date"
        )
    if Period.objects.filter(
        organisation=organisation, month=month_start(day), closed_at__isnull=False
    ).exists():
        raise ValidationError(
            _("%(month)s is closed; events of a closed month cannot be declared.")
            % {"month": f"{day:%Y-%m}"},
            code="closed_month",
        )
    return day


class RuleSelect(forms.Select):
    """The rule list, each rule with its points, and with its range and whether it needs
    evidence on the option (``data-*``), for the page's script to help fill in the item."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        rule = getattr(option["value"], "instance", None)
        if isinstance(rule, RuleItem):
            option["attrs"].update(
                {
                    "data-min": rule.points_min,
                    "data-max": rule.points_max,
                    "data-sign": "+" if rule.sign > 0 else "−",
                    "data-evidence": "1" if rule.evidence_required else "",
                }
            )
        return option


def rule_label(rule: RuleItem) -> str:
    """A rule as lists offer it: code, name and points, e.g. "ATD-002 迟到 (−5)"."""
    return f"{rule.code} {rule.name} ({rule.points_display()})"


class EvidenceInput(forms.ClearableFileInput):
    """Two pickers under the field's one name, whose files the form takes together: "take
    a photo" (``capture``: on a phone the camera opens straight from the form) and "choose
    photos or PDFs" (several at once, from the gallery or files: with ``capture`` a phone
    offers only its camera, so one input could not take a PDF)."""

    allow_multiple_selected = True

    def __init__(self) -> None:
        super().__init__(attrs={"accept": "image/*,application/pdf"})

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> Any:
        files = super().render(name, value, attrs, renderer)
        camera_id = f"{(attrs or {}).get('id') or name}_camera"
        camera = format_html(
            '<input type="file" name="{}" id="{}" accept="image/*" capture="environment">',
            name,
            camera_id,
        )
        return format_html(
            '<span class="pts-evidence"><label class="pts-evidence__camera" for="{}">'
            '<span class="material-icons" aria-hidden="true">photo_camera</span> {}</label>{}'
            '<span class="pts-evidence__files">{}</span>{}</span>',
            camera_id,
            _("Take a photo"),
            camera,
            _("or choose photos or PDFs:"),
            files,
        )


class EvidenceField(forms.FileField):
    widget = EvidenceInput

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(EvidenceField, self).clean(f, initial) for f in files]


class ConfirmedForm(forms.Form):
    """A confirmation page's form (cancel a redemption, withdraw a declaration): an optional
    reason, and the confirmation that only the page's button sends. A POST without it (an
    old page's button, a double tap) does nothing and shows the page again, with the
    subclass's ``unconfirmed`` message."""

    unconfirmed: Any = ""

    reason = forms.CharField(
        label=gettext_lazy("reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(required=True, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"confirm": True})
        super().__init__(*args, **kwargs)
        self.fields["confirm"].error_messages["required"] = self.unconfirmed


class DeclarationItemForm(forms.ModelForm):
    required_css_class = "pts-required"  # marked on the page (a formset's inputs have no
    # ``required``: an extra item may stay empty)
    evidence = EvidenceField(label=gettext_lazy("evidence (photos or PDF)"), required=False)

    class Meta:
        model = DeclarationItem
        fields = ["rule_item", "quantity", "points", "event_date", "place", "description"]
        widgets = {
            "event_date": IsoDateInput,
            "rule_item": RuleSelect,
        }
        help_texts = {
            "points": gettext_lazy(
                "A rule with fixed points fills them in; for a range, choose within it."
            )
        }
        error_messages = {
            "rule_item": {"required": gettext_lazy("Choose the rule item.")},
            "quantity": {"required": gettext_lazy("Fill in the quantity.")},
            "event_date": {"required": gettext_lazy("Fill in the date of the event.")},
            "place": {"required": gettext_lazy("Fill in where it happened.")},
            "description": {"required": gettext_lazy("Say what happened.")},
        }

    def __init__(
        self, *args: Any, member: Member, uploader: Any = None, pending: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.member = member
        self.uploader = uploader or member.user  # whose upload quota the evidence counts to
        self.pending = pending  # evidence bytes of earlier items in the same request
        rule_field = self.fields["rule_item"]
        assert isinstance(rule_field, forms.ModelChoiceField)
        # The form accepts any rule of the catalog, to say why one may not be used; the
        # list offers only those that may.
        rule_field.queryset = rule_items_marked_for_unit(unit=member.unit)
        rule_field.label_from_instance = rule_label  # type: ignore[method-assign,assignment]
        rule_field.empty_label = _("Choose a rule item")
        # A returned item keeps its own rule in the list (read when the list is drawn: the
        # revise page sets the instance later), so that the form can say it is out of force.
        rule_field.widget.choices = Offered(
            rule_field,
            lambda: (
                rule_items_for_unit(unit=member.unit)
                | RuleItem.objects.filter(pk=self.instance.rule_item_id)
            ).order_by("category", "code"),
        )
        quantity_field = self.fields["quantity"]
        assert isinstance(quantity_field, forms.IntegerField)
        # Checked here instead of by the model (see _get_validation_exclusions).
        quantity_field.validators += [MinValueValidator(1), MaxValueValidator(MAX_QUANTITY)]
        quantity_field.widget.attrs.update(min=1, max=MAX_QUANTITY)
        self.fields["points"].required = False
        self.checked_evidence: list[CheckedEvidence] = []

    def _get_validation_exclusions(self) -> Any:
        # The form has checked these, against the organisation's catalog and with the
        # quantity's bounds, before the model is validated: the model would read the rule
        # again, and ask the database about the quantity's constraint.
        exclusions: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        return exclusions | {"rule_item", "quantity"}

    def clean_rule_item(self) -> RuleItem:
        rule: RuleItem = self.cleaned_data["rule_item"]
        if not rule.active:
            raise ValidationError(
                _("“%(rule)s” is no longer in force.") % {"rule": rule.name},
                code="rule_inactive",
            )
        if not rule.applies_here:  # type: ignore[attr-defined]
            raise ValidationError(
                _("“%(rule)s” does not apply to %(unit)s.")
                % {"rule": rule.name, "unit": self.member.unit.name},
                code="rule_out_of_scope",
            )
        return rule

    def clean_event_date(self) -> Any:
        return check_event_date(self.cleaned_data["event_date"], self.member.organisation)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rule: RuleItem | None = data.get("rule_item")
        if rule is None:
            return data
        points = data.get("points")
        if rule.is_fixed:
            data["points"] = rule.points_min
        elif points is None:
            self.add_error(
                "points",
                ValidationError(
                    _("Choose the points, from %(min)s to %(max)s.")
                    % {"min": rule.points_min, "max": rule.points_max},
                    code="points_required",
                ),
            )
        elif not rule.points_min <= points <= rule.points_max:
            self.add_error(
                "points",
                ValidationError(
                    _("The points must be from %(min)s to %(max)s.")
                    % {"min": rule.points_min, "max": rule.points_max},
                    code="points_out_of_range",
                ),
            )
        files = data.get("evidence") or []
        has_evidence = bool(self.instance.pk) and self.instance.evidence.exists()
        if rule.evidence_required and not files and not has_evidence:
            self.add_error(
                "evidence",
                ValidationError(
                    _("“%(rule)s” needs evidence: add a photo or a PDF.") % {"rule": rule.name},
                    code="evidence_required",
                ),
            )
        try:
            self.checked_evidence = evidence_check_uploads(
                uploads=files,
                organisation=self.member.organisation,
                user=self.uploader,
                pending=self.pending,
            )
        except ValidationError as error:
            self.add_error("evidence", error)
        return data


class AwardNoticeForm(forms.Form):
    """A leader's notice to members of the units they lead."""

    required_css_class = "pts-required"

    members = forms.ModelMultipleChoiceField(
        queryset=Member.objects.none(),
        label=gettext_lazy("members"),
        help_text=gettext_lazy("Choose one or more (hold Ctrl or ⌘ on a computer)."),
    )
    rule_item = forms.ModelChoiceField(
        queryset=RuleItem.objects.none(), label=gettext_lazy("rule item"), widget=RuleSelect
    )
    quantity = forms.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, initial=1, label=gettext_lazy("quantity")
    )
    points = forms.IntegerField(
        required=False,
        label=gettext_lazy("points per unit"),
        help_text=gettext_lazy(
            "A rule with fixed points fills them in; for a range, choose within it."
        ),
    )
    event_date = forms.DateField(
        label=gettext_lazy("date of the event"),
        widget=IsoDateInput,
    )
    description = forms.CharField(
        max_length=2000, widget=forms.Textarea, label=gettext_lazy("description")
    )

    def __init__(self, *args: Any, issuer: Member, scope: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.issuer = issuer
        members_field = self.fields["members"]
        rule_field = self.fields["rule_item"]
        assert isinstance(members_field, forms.ModelMultipleChoiceField)
        assert isinstance(rule_field, forms.ModelChoiceField)
        members_field.queryset = scope.exclude(pk=issuer.pk).select_related("unit").order_by("name")
        offer_by_search(members_field, purpose="notice", count=members_field.queryset.count())
        rule_field.queryset = RuleItem.objects.filter(organisation=issuer.organisation, active=True)
        rule_field.label_from_instance = rule_label  # type: ignore[method-assign,assignment]
        rule_field.empty_label = _("Choose a rule item")
        rule_field.widget.choices = Offered(  # those that apply to somebody in the scope
            rule_field,
            lambda: rule_items_for_any_unit(
                units=OrgUnit.objects.filter(pk__in=scope.values("unit_id"))
            ),
        )

    def clean_event_date(self) -> Any:
        return check_event_date(self.cleaned_data["event_date"], self.issuer.organisation)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rule: RuleItem | None = data.get("rule_item")
        if rule is None:
            return data
        if rule.is_fixed:
            data["points"] = rule.points_min
        elif data.get("points") is None or not (
            rule.points_min <= data["points"] <= rule.points_max
        ):
            self.add_error(
                "points",
                ValidationError(
                    _("The points must be from %(min)s to %(max)s.")
                    % {"min": rule.points_min, "max": rule.points_max},
                    code="points_out_of_range",
                ),
            )
        day = data.get("event_date")
        amount = (data.get("points") or 0) * (data.get("quantity") or 1)
        members = list(data.get("members") or [])
        capped = rule.cap_per_day or rule.cap_per_month
        usages = rule_caps(rule=rule, members=members, day=day) if capped and day else {}
        in_scope: dict[int, bool] = {}  # by unit: the members of a notice share few units
        for member in members:
            if member.unit_id not in in_scope:
                in_scope[member.unit_id] = rule_item_applies_to_unit(
                    rule_item=rule, unit=member.unit
                )
            if not in_scope[member.unit_id]:
                self.add_error(
                    "rule_item",
                    ValidationError(
                        _("“%(rule)s” does not apply to %(unit)s.")
                        % {"rule": rule.name, "unit": member.unit.name},
                        code="rule_out_of_scope",
                    ),
                )
                break
            usage = usages.get(member.pk)
            if usage is not None:
                over_day = rule.cap_per_day and usage.used_today + amount > rule.cap_per_day
                over_month = (
                    rule.cap_per_month and usage.used_this_month + amount > rule.cap_per_month
                )
                if over_day or over_month:
                    self.add_error(
                        "members",
                        ValidationError(
                            _("%(member)s would exceed the cap of “%(rule)s”.")
                            % {"member": member.name, "rule": rule.name},
                            code="over_cap",
                        ),
                    )
        return data
