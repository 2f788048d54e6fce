"""Summaries (HR prepares, the committee signs off), publicity batches (read) and appeals
(lodge, re-examine, rule): the ``flows.publicity`` services and selectors behind
``/api/v1/``. Flow steps run as the web task pages run them: a summary is opened and an
appeal lodged through the flow's start node, and each later step inside its open task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from viewflow.workflow.models import Task

from flows.api.base import (
    IDEMPOTENCY_HEADER,
    OPEN_TASK,
    flow_start,
    idempotent,
    open_tasks,
    open_tasks_prefetch,
    task_activation,
)
from flows.api.catalog import caller, my_members, my_units
from flows.api.errors import Conflict
from flows.evidence import CheckedEvidence, evidence_check_uploads, evidence_store
from flows.flows import AppealFlow, SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    Evidence,
    ItemStatus,
    Ruling,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.publicity import (
    FLAG_LABELS,
    Publicity,
    PublicityRow,
    appeal_lodge,
    appeal_may_lodge,
    appeal_reexamine,
    appeal_rule,
    appeal_visible_to,
    publicity_for,
    summary_exclude,
    summary_open,
    summary_sign,
    summary_submit,
    summary_visible_to,
)
from flows.publicity_views import signoff_waiting
from points.models import OrgUnit
from points.periods import organisation_today
from points.roles import Role
from points.selectors.ledger import RankGroup
from points.selectors.org import user_roles

PUBLISHED = [SummaryStatus.PUBLICITY, SummaryStatus.POSTED]

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "Repeat the request safely: the same key and body replay the first response; "
        "the same key with another body is 409 `idempotency_conflict`."
    ),
)


# --- open flow tasks ---------------------------------------------------------------------------


@contextmanager
def _at_step(*, record: Summary | Appeal, flow_task: Any, missing: str, user: Any) -> Iterator[Any]:
    """The activation of the record's open task at one step (``task_activation``), or 409
    when the record is not at that step."""
    task = (
        Task.objects.filter(process_id=record.process_id, flow_task=flow_task, status__in=OPEN_TASK)
        .order_by("-pk")
        .first()
        if record.process_id
        else None
    )
    if task is None:
        raise Conflict(missing, code="task_not_available")
    with task_activation(task_id=task.pk, user=user, flow_task=flow_task) as activation:
        yield activation


class PublicityTaskSerializer(serializers.Serializer[Task]):
    """The step the record waits at: claim it (``POST /tasks/{id}/claim/``) when it sits in
    a queue (``NEW`` with no owner); an ``ASSIGNED`` task is its owner's."""

    id = serializers.IntegerField()
    step = serializers.CharField(
        source="flow_task.name", help_text="prepare (a summary); reexamine or rule (an appeal)"
    )
    status = serializers.CharField(help_text="NEW: in a queue, unclaimed; ASSIGNED: claimed")
    owner = serializers.IntegerField(source="owner_id", allow_null=True)


class _WithOpenTask(serializers.Serializer[Any]):
    #: The flow's task steps a person acts on (the others are the flow's own).
    STEPS: tuple[Any, ...] = ()

    open_task = serializers.SerializerMethodField(
        help_text="the step a person acts on next; null when none is open"
    )

    @extend_schema_field(PublicityTaskSerializer(allow_null=True))
    def get_open_task(self, record: Any) -> dict[str, Any] | None:
        tasks = sorted(
            (task for task in open_tasks(record) if task.flow_task in self.STEPS),
            key=lambda t: -t.pk,
        )
        return dict(PublicityTaskSerializer(tasks[0]).data) if tasks else None


# --- filters' choices: only what the caller's organisation holds ------------------------


def _visible_summaries(request: Any) -> QuerySet[Summary]:
    return summary_visible_to(user=getattr(request, "user", None))


# --- summaries ---------------------------------------------------------------------------------


class SummaryItemSerializer(serializers.ModelSerializer[SummaryItem]):
    member_name = serializers.CharField(source="member.name", read_only=True)
    unit_name = serializers.CharField(source="member.unit.name", read_only=True)
    rule_name = serializers.CharField(source="rule_item.name", read_only=True)
    flags = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="cap, duplicate, veto, reviewer_volume",
    )
    flag_labels = serializers.SerializerMethodField()

    class Meta:
        model = SummaryItem
        fields = [
            "id",
            "member",
            "member_name",
            "unit_name",
            "rule_item",
            "rule_name",
            "quantity",
            "points",
            "amount",
            "event_date",
            "description",
            "approved_by",
            "flags",
            "flag_labels",
            "status",
            "excluded_reason",
            "refused_reason",
        ]

    def get_flag_labels(self, item: SummaryItem) -> list[str]:
        return [str(FLAG_LABELS.get(flag, flag)) for flag in item.flags]


class SignOffSerializer(serializers.ModelSerializer[SignOff]):
    class Meta:
        model = SignOff
        fields = ["round", "user", "approve", "reason", "created_at"]


class SummarySerializer(_WithOpenTask, serializers.ModelSerializer[Summary]):
    STEPS = (SummaryFlow.prepare,)

    scope_name = serializers.CharField(source="scope.name", read_only=True)
    item_count = serializers.IntegerField(read_only=True, help_text="items not excluded")
    votes = SignOffSerializer(
        many=True,
        read_only=True,
        source="signoffs",
        help_text="every round's votes (shown to HR and the committee only)",
    )

    class Meta:
        model = Summary
        fields = [
            "id",
            "scope",
            "scope_name",
            "period_kind",
            "period_start",
            "period_end",
            "status",
            "round",
            "rejection_reasons",
            "created_by",
            "created_at",
            "submitted_at",
            "published_at",
            "window_ends_at",
            "posted_at",
            "item_count",
            "votes",
            "open_task",
        ]

    def to_representation(self, summary: Summary) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(summary)
        if not self.context.get("deliberation", False):
            # The committee's votes and reasons are for HR and the committee, as on the web.
            data["votes"] = []
            data["rejection_reasons"] = ""
        return data


class SummaryOpenSerializer(serializers.Serializer[Any]):
    scope = serializers.PrimaryKeyRelatedField(
        queryset=OrgUnit.objects.none(), help_text="the org unit whose subtree is gathered"
    )
    on = serializers.DateField(help_text="a day in the period (default: today)", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        organisation = self.context.get("organisation")
        if organisation is not None:
            field = self.fields["scope"]
            assert isinstance(field, serializers.PrimaryKeyRelatedField)
            field.queryset = OrgUnit.objects.filter(organisation=organisation)


class ExcludeSerializer(serializers.Serializer[Any]):
    item = serializers.PrimaryKeyRelatedField(
        queryset=SummaryItem.objects.none(), help_text="an included item of this summary"
    )
    reason = serializers.CharField(max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        summary = self.context.get("summary")
        if summary is not None:
            field = self.fields["item"]
            assert isinstance(field, serializers.PrimaryKeyRelatedField)
            field.queryset = summary.items.filter(status=ItemStatus.INCLUDED)


class SignSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(
        choices=[("approve", gettext_lazy("sign off")), ("reject", gettext_lazy("reject"))]
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="for a rejection"
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # summary_sign refuses it too; here the error names its field.
        if data["decision"] == "reject" and not data.get("reason", "").strip():
            raise serializers.ValidationError(
                {"reason": [_("Give a reason for rejecting.")]}, code="required"
            )
        return data


class SummaryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SummaryStatus.choices)
    scope = django_filters.ModelChoiceFilter(label=gettext_lazy("scope"), queryset=my_units)
    awaiting_my_vote = django_filters.BooleanFilter(
        label=gettext_lazy("waiting for my sign-off"), method="awaiting"
    )

    class Meta:
        model = Summary
        fields = ["status", "scope", "awaiting_my_vote"]

    def awaiting(self, queryset: QuerySet[Summary], name: str, value: bool) -> QuerySet[Summary]:
        waiting = signoff_waiting(user=self.request.user).values("pk")  # type: ignore[union-attr]
        return queryset.filter(pk__in=waiting) if value else queryset.exclude(pk__in=waiting)


class SummaryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Summary]
):
    """Period summaries (汇总): HR and the committee see their organisation's; a member only
    the published batches of their scope. HR opens, prepares and submits; the committee
    signs off each round. The items are ``/summaries/{id}/items/``."""

    serializer_class = SummarySerializer
    filterset_class = SummaryFilter

    def get_queryset(self) -> QuerySet[Summary]:
        if getattr(self, "swagger_fake_view", False):
            return Summary.objects.none()
        caller(self.request)
        return (
            summary_visible_to(user=self.request.user)
            .select_related("scope", "process")
            .prefetch_related(
                open_tasks_prefetch(),
                Prefetch(
                    "signoffs", queryset=SignOff.objects.order_by("round", "created_at", "pk")
                ),
            )
            .annotate(item_count=Count("items", filter=~Q(items__status=ItemStatus.EXCLUDED)))
            .order_by("-period_start", "-pk")
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            roles = user_roles(user=self.request.user)
            context["deliberation"] = bool({Role.HR, Role.COMMITTEE} & roles)
        return context

    def _detail(self, pk: Any, code: int = status.HTTP_200_OK) -> Response:
        summary = self.get_queryset().get(pk=pk)
        return Response(
            SummarySerializer(summary, context=self.get_serializer_context()).data, status=code
        )

    @extend_schema(
        request=SummaryOpenSerializer,
        responses={201: SummarySerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """HR opens the summary of the period containing ``on`` for a unit's subtree: every
        approved item waiting in the pending pool is gathered and flagged."""
        member = caller(request)
        if not SummaryFlow.start.can_execute(request.user):
            raise PermissionDenied(_("Only HR runs summaries."))
        serializer = SummaryOpenSerializer(
            data=request.data, context={"organisation": member.organisation}
        )
        serializer.is_valid(raise_exception=True)
        scope = serializer.validated_data["scope"]
        on = serializer.validated_data.get("on") or organisation_today(member.organisation)

        def act(process: Any) -> Summary:
            summary = summary_open(user=request.user, scope=scope, on=on)
            summary.process = process
            summary.save(update_fields=["process"])
            return summary

        summary = flow_start(SummaryFlow, user=request.user, act=act)
        return self._detail(summary.pk, status.HTTP_201_CREATED)

    def _prepare(self, summary: Summary, user: Any) -> Any:
        return _at_step(
            record=summary,
            flow_task=SummaryFlow.prepare,
            missing=_("This summary is not being prepared."),
            user=user,
        )

    @extend_schema(request=ExcludeSerializer, responses={200: SummarySerializer})
    @action(detail=True, methods=["post"])
    def exclude(self, request: Request, pk: str | None = None) -> Response:
        """The HR officer preparing the summary leaves an item out, with a reason; it goes
        back to its reviewer or issuer."""
        summary = self.get_object()
        with self._prepare(summary, request.user):
            serializer = ExcludeSerializer(data=request.data, context={"summary": summary})
            serializer.is_valid(raise_exception=True)
            summary_exclude(
                summary=summary,
                item_id=serializer.validated_data["item"].pk,
                user=request.user,
                reason=serializer.validated_data["reason"],
            )
        return self._detail(summary.pk)

    @extend_schema(request=None, responses={200: SummarySerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """The HR officer preparing the summary sends it to the committee (a new round)."""
        summary = self.get_object()
        with self._prepare(summary, request.user) as activation:
            summary_submit(summary=summary, user=request.user)
            activation.execute()
        return self._detail(summary.pk)

    @extend_schema(request=SignSerializer, responses={200: SummarySerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request: Request, pk: str | None = None) -> Response:
        """A committee member's vote on the current round. When the policy's quorum decides,
        the summary is published (``publicity``) or goes back to HR (``draft``)."""
        caller(request)
        if Role.COMMITTEE not in user_roles(user=request.user):
            raise PermissionDenied(_("Only committee members sign off summaries."))
        summary = self.get_object()
        serializer = SignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        summary_sign(
            summary=summary,
            user=request.user,
            approve=serializer.validated_data["decision"] == "approve",
            reason=serializer.validated_data["reason"],
        )
        return self._detail(summary.pk)


class SummaryItemFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ItemStatus.choices)
    member = django_filters.ModelChoiceFilter(label=gettext_lazy("member"), queryset=my_members)
    flagged = django_filters.BooleanFilter(
        label=gettext_lazy("with anomalies"), method="with_flags"
    )
    flag = django_filters.ChoiceFilter(
        label=gettext_lazy("with this anomaly"),
        choices=list(FLAG_LABELS.items()),
        method="with_flag",
    )

    class Meta:
        model = SummaryItem
        fields = ["status", "member", "flagged", "flag"]

    def with_flags(
        self, queryset: QuerySet[SummaryItem], name: str, value: bool
    ) -> QuerySet[SummaryItem]:
        return queryset.exclude(flags=[]) if value else queryset.filter(flags=[])

    def with_flag(
        self, queryset: QuerySet[SummaryItem], name: str, value: str
    ) -> QuerySet[SummaryItem]:
        # The flags are a JSON list of fixed codes; its text holds each one quoted.
        return queryset.filter(flags__icontains=f'"{value}"')


class SummaryItemViewSet(mixins.ListModelMixin, viewsets.GenericViewSet[SummaryItem]):
    """The items of a summary with their anomaly flags (cap, duplicate, veto,
    reviewer_volume) and status, for HR and the committee of its organisation."""

    serializer_class = SummaryItemSerializer
    filterset_class = SummaryItemFilter

    def get_queryset(self) -> QuerySet[SummaryItem]:
        if getattr(self, "swagger_fake_view", False):
            return SummaryItem.objects.none()
        caller(self.request)
        summary = get_object_or_404(
            summary_visible_to(user=self.request.user), pk=self.kwargs["summary_pk"]
        )
        if not {Role.HR, Role.COMMITTEE} & user_roles(user=self.request.user):
            raise PermissionDenied(_("Only HR and the committee see a summary's flags."))
        return summary.items.select_related("member__unit", "rule_item").order_by(
            "member__name", "event_date", "pk"
        )


# --- publicity batches ---------------------------------------------------------------------

#: What a batch on the board may be, and what its items may be (never excluded ones).
BATCH_STATUS = [(s.value, s.label) for s in SummaryStatus if s in PUBLISHED]
BOARD_ITEM_STATUS = [(s.value, s.label) for s in ItemStatus if s != ItemStatus.EXCLUDED]
#: What an appealed item may be: held until the ruling, then as ruled (or posted already).
APPEALED_ITEM_STATUS = [
    (s.value, s.label) for s in ItemStatus if s not in (ItemStatus.EXCLUDED, ItemStatus.INCLUDED)
]


class PublicityItemSerializer(serializers.ModelSerializer[SummaryItem]):
    rule_name = serializers.CharField(source="rule_item.name", read_only=True)
    status = serializers.ChoiceField(choices=BOARD_ITEM_STATUS, read_only=True)

    class Meta:
        model = SummaryItem
        fields = [
            "id",
            "rule_item",
            "rule_name",
            "quantity",
            "points",
            "amount",
            "event_date",
            "description",
            "status",
        ]


class PublicityRowSerializer(serializers.Serializer[PublicityRow]):
    member = serializers.IntegerField(source="member.pk")
    member_name = serializers.CharField(source="member.name")
    unit_name = serializers.CharField(source="member.unit.name")
    total = serializers.IntegerField()
    items = PublicityItemSerializer(many=True)


class RankedSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    member = serializers.IntegerField()
    member_name = serializers.CharField()
    total = serializers.IntegerField()


class TopSerializer(serializers.Serializer[Any]):
    leaders = RankedSerializer(many=True)
    members = RankedSerializer(many=True)


class PublicityBatchSerializer(serializers.ModelSerializer[Summary]):
    scope_name = serializers.CharField(source="scope.name", read_only=True)
    status = serializers.ChoiceField(choices=BATCH_STATUS, read_only=True)
    item_count = serializers.IntegerField(read_only=True)
    open_appeals = serializers.IntegerField(read_only=True)
    window_open = serializers.SerializerMethodField()

    class Meta:
        model = Summary
        fields = [
            "id",
            "scope",
            "scope_name",
            "period_kind",
            "period_start",
            "period_end",
            "status",
            "published_at",
            "window_ends_at",
            "window_open",
            "posted_at",
            "item_count",
            "open_appeals",
        ]

    def get_window_open(self, summary: Summary) -> bool:
        return summary.status == SummaryStatus.PUBLICITY and (
            summary.window_ends_at is None or timezone.now() < summary.window_ends_at
        )


class PublicitySerializer(serializers.Serializer[Publicity]):
    """A batch as the publicity page shows it (``flows.publicity.publicity_for``)."""

    summary = PublicityBatchSerializer()
    rows = PublicityRowSerializer(many=True, help_text="each member's items and total")
    top = serializers.SerializerMethodField(help_text="the top members of each group")

    @extend_schema_field(TopSerializer)
    def get_top(self, publicity: Publicity) -> dict[str, Any]:
        return {
            group: [
                {
                    "rank": rank,
                    "member": row.member.pk,
                    "member_name": row.member.name,
                    "total": row.total,
                }
                for rank, row in publicity.top.get(group, [])
            ]
            for group in (RankGroup.LEADERS, RankGroup.MEMBERS)
        }


class PublicityViewSet(viewsets.ReadOnlyModelViewSet[Summary]):
    """Published batches (公示) of your scope, as the publicity board shows them: the list,
    then one batch with each member's items and total and the top members per group. A
    batch outside your scope is 404."""

    serializer_class = PublicityBatchSerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> QuerySet[Summary]:
        if getattr(self, "swagger_fake_view", False):
            return Summary.objects.none()
        caller(self.request)
        return (
            summary_visible_to(user=self.request.user)
            .filter(status__in=PUBLISHED)
            .select_related("scope")
            .annotate(
                item_count=Count(
                    "items", filter=~Q(items__status=ItemStatus.EXCLUDED), distinct=True
                ),
                open_appeals=Count(
                    "items__appeals",
                    filter=~Q(items__appeals__status=AppealStatus.RULED),
                    distinct=True,
                ),
            )
            .order_by("-published_at", "-pk")
        )

    @extend_schema(responses={200: PublicitySerializer})
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(PublicitySerializer(publicity_for(summary=self.get_object())).data)


# --- appeals -------------------------------------------------------------------------------


class AppealEvidenceSerializer(serializers.ModelSerializer[Evidence]):
    class Meta:
        model = Evidence
        fields = ["id", "original_name", "content_type", "size", "uploaded_at"]


class AppealSerializer(_WithOpenTask, serializers.ModelSerializer[Appeal]):
    STEPS = (AppealFlow.reexamine, AppealFlow.rule)

    summary = serializers.IntegerField(source="item.summary_id", read_only=True)
    member = serializers.IntegerField(source="item.member_id", read_only=True)
    member_name = serializers.CharField(source="item.member.name", read_only=True)
    rule_name = serializers.CharField(source="item.rule_item.name", read_only=True)
    amount = serializers.IntegerField(source="item.amount", read_only=True)
    item_status = serializers.ChoiceField(
        source="item.status", choices=APPEALED_ITEM_STATUS, read_only=True
    )
    appellant_name = serializers.CharField(source="appellant.name", read_only=True)
    evidence = AppealEvidenceSerializer(many=True, read_only=True)

    class Meta:
        model = Appeal
        fields = [
            "id",
            "item",
            "summary",
            "member",
            "member_name",
            "rule_name",
            "amount",
            "item_status",
            "appellant",
            "appellant_name",
            "reason",
            "status",
            "hr_due",
            "committee_due",
            "findings",
            "reexamined_at",
            "ruling",
            "ruled_points",
            "ruling_reason",
            "ruled_at",
            "created_at",
            "evidence",
            "open_task",
        ]


class AppealLodgeSerializer(serializers.Serializer[Any]):
    item = serializers.PrimaryKeyRelatedField(
        queryset=SummaryItem.objects.none(), help_text="a published item of a batch you see"
    )
    reason = serializers.CharField(max_length=2000)
    evidence = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="photos or PDF (multipart/form-data)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked_evidence: list[CheckedEvidence] = []
        request = self.context.get("request")
        if request is not None:
            batches = summary_visible_to(user=request.user).filter(status__in=PUBLISHED)
            field = self.fields["item"]
            assert isinstance(field, serializers.PrimaryKeyRelatedField)
            field.queryset = (
                SummaryItem.objects.exclude(status=ItemStatus.EXCLUDED)
                .filter(summary__in=batches)
                .select_related("summary__organisation", "member", "rule_item")
            )

    def validate_evidence(self, files: list[Any]) -> list[Any]:
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            self.checked_evidence = evidence_check_uploads(
                uploads=files,
                organisation=self.context["organisation"],
                user=self.context["request"].user,
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                [
                    serializers.ErrorDetail(message, code=e.code or "invalid")
                    for e in error.error_list
                    for message in e.messages
                ]
            ) from error
        return files


class ReexamineSerializer(serializers.Serializer[Any]):
    findings = serializers.CharField(max_length=2000)


class RuleSerializer(serializers.Serializer[Any]):
    ruling = serializers.ChoiceField(choices=Ruling.choices)
    points = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        default=None,
        help_text="amended points per unit (for amend), within the rule's range",
    )
    reason = serializers.CharField(max_length=2000)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        # appeal_rule refuses it too (with the rule's range); here the error names its field.
        if data["ruling"] == Ruling.AMEND and data.get("points") is None:
            raise serializers.ValidationError(
                {"points": [_("An amendment needs the amended points per unit.")]},
                code="required",
            )
        return data


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppealStatus.choices)
    summary = django_filters.ModelChoiceFilter(
        field_name="item__summary", label=gettext_lazy("summary"), queryset=_visible_summaries
    )

    class Meta:
        model = Appeal
        fields = ["status", "summary"]


class AppealViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Appeal]
):
    """Appeals (申诉): yours and those on your items; HR and the committee see their
    organisation's. Anyone in a batch's scope lodges one during its window; the summary's HR
    re-examines; a committee member claims the ruling from the queue and rules."""

    serializer_class = AppealSerializer
    filterset_class = AppealFilter

    def get_queryset(self) -> QuerySet[Appeal]:
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        caller(self.request)
        return (
            appeal_visible_to(user=self.request.user)
            .select_related("appellant", "item__member", "item__rule_item", "process")
            .prefetch_related("evidence", open_tasks_prefetch())
            .order_by("-created_at", "-pk")
        )

    def _detail(self, pk: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(AppealSerializer(self.get_queryset().get(pk=pk)).data, status=code)

    @extend_schema(
        request=AppealLodgeSerializer,
        responses={201: AppealSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        """Appeal a published item during its publicity window (HR may also reopen a posted
        item); the item is held until the committee rules."""
        member = caller(request)
        if not AppealFlow.start.can_execute(request.user):
            raise PermissionDenied(_("You may not appeal."))
        serializer = AppealLodgeSerializer(
            data=request.data, context={"request": request, "organisation": member.organisation}
        )
        serializer.is_valid(raise_exception=True)
        item: SummaryItem = serializer.validated_data["item"]
        refusal = appeal_may_lodge(user=request.user, item=item)
        if refusal:  # appeal_lodge refuses it too; here the error names its field
            raise serializers.ValidationError(
                {"item": [serializers.ErrorDetail(refusal, code="not_appealable")]}
            )
        user: Any = request.user

        def act(process: Any) -> Appeal:
            appeal = appeal_lodge(user=user, item=item, reason=serializer.validated_data["reason"])
            evidence_store(checked=serializer.checked_evidence, user=user, appeal=appeal)
            appeal.process = process
            appeal.save(update_fields=["process"])
            return appeal

        appeal = flow_start(AppealFlow, user=user, act=act)
        return self._detail(appeal.pk, status.HTTP_201_CREATED)

    @extend_schema(request=ReexamineSerializer, responses={200: AppealSerializer})
    @action(detail=True, methods=["post"])
    def reexamine(self, request: Request, pk: str | None = None) -> Response:
        """The HR officer the re-examination (二次核查) is assigned to records its findings:
        never the appellant or the member whose item it is."""
        appeal = self.get_object()
        with _at_step(
            record=appeal,
            flow_task=AppealFlow.reexamine,
            missing=_("This appeal is not waiting for re-examination."),
            user=request.user,
        ) as activation:
            serializer = ReexamineSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            appeal_reexamine(
                appeal=appeal, user=request.user, findings=serializer.validated_data["findings"]
            )
            activation.execute()
        return self._detail(appeal.pk)

    @extend_schema(request=RuleSerializer, responses={200: AppealSerializer})
    @action(detail=True, methods=["post"])
    def rule(self, request: Request, pk: str | None = None) -> Response:
        """The committee member who claimed the ruling rules: uphold, amend (points per unit
        within the rule's range), cancel, or cancel as a false declaration. An unclaimed
        ruling is 409 ``task_not_claimed``: claim its ``open_task`` first."""
        appeal = self.get_object()
        with _at_step(
            record=appeal,
            flow_task=AppealFlow.rule,
            missing=_("This appeal is not waiting for a ruling."),
            user=request.user,
        ) as activation:
            serializer = RuleSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            appeal_rule(
                appeal=appeal,
                user=request.user,
                ruling=serializer.validated_data["ruling"],
                reason=serializer.validated_data["reason"],
                points=serializer.validated_data["points"],
            )
            activation.execute()
        return self._detail(appeal.pk)


#: Extra paths under /api/v1/ that are not router viewsets.
urlpatterns: list[Any] = [
    path(
        "summaries/<int:summary_pk>/items/",
        SummaryItemViewSet.as_view({"get": "list"}),
        name="summary-items",
    ),
]


def register(router: Any) -> None:
    """Register this module's viewsets on the v1 router."""
    router.register("summaries", SummaryViewSet, basename="summary")
    router.register("publicity", PublicityViewSet, basename="publicity")
    router.register("appeals", AppealViewSet, basename="appeal")
