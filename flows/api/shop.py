"""The points shop and bulk imports: rewards (what the caller may redeem; HR: all of the
organisation's), redemptions (request through ``RedemptionFlow``, HR claims, approves,
fulfils or rejects, the member cancels) and attendance/event imports (HR sends rows as
JSON; they are checked as an uploaded file's rows and imported by the same job)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from viewflow.workflow.models import Task

from flows.api.base import (
    OPEN_TASK,
    flow_start,
    idempotent,
    open_tasks,
    open_tasks_prefetch,
    task_activation,
    task_claim,
    task_unclaim,
)
from flows.api.catalog import caller, my_members, of_my_organisation
from flows.api.errors import Conflict
from flows.flows import RedemptionFlow
from flows.imports import (
    import_hr_member,
    import_job_confirm,
    import_job_from_rows,
    import_jobs_visible_to,
)
from flows.imports_read import max_rows
from flows.models import ImportJob, ImportKind, ImportStatus, Redemption, RedemptionStatus
from flows.models.redemption import OPEN
from flows.redemption import (
    redemption_approve,
    redemption_cancel,
    redemption_fulfil,
    redemption_reject,
    redemption_request,
    redemption_visible_to,
    reward_for_request,
)
from points.models import Member, Reward, RewardKind
from points.periods import organisation_today
from points.roles import Role
from points.selectors.org import user_roles
from points.selectors.shop import reward_refusal, rewards_for_member

#: Urls under /api/v1/ that are not router viewsets.
urlpatterns: list[Any] = []


def _choice(choices: Any, **kwargs: Any) -> serializers.ChoiceField:
    """A choice field whose enum is written inline in the schema (no shared component whose
    name could collide with another resource's ``status`` or ``kind``)."""

    @extend_schema_field({"type": "string", "enum": [value for value, _label in choices]})
    class InlineChoice(serializers.ChoiceField):
        pass

    return InlineChoice(choices=choices, **kwargs)


# --- rewards -------------------------------------------------------------------------------


class RewardSerializer(serializers.ModelSerializer[Reward]):
    kind = _choice(RewardKind.choices, read_only=True)
    picture = serializers.SerializerMethodField(
        help_text=gettext_lazy("The picture's address, or null without one.")
    )

    class Meta:
        model = Reward
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "points_cost",
            "stock",
            "active",
            "active_from",
            "active_until",
            "picture",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_picture(self, reward: Reward) -> str | None:
        if not reward.picture:
            return None
        return reverse("shop:rewards:picture", args=[reward.pk])


class RewardFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=RewardKind.choices)

    class Meta:
        model = Reward
        fields = ["kind"]


class RewardViewSet(viewsets.ReadOnlyModelViewSet[Reward]):
    """Rewards you may redeem now, cheapest first (out of stock included, with stock 0).
    HR sees every reward of the organisation, on offer or not."""

    serializer_class = RewardSerializer
    filterset_class = RewardFilter

    def get_queryset(self) -> QuerySet[Reward]:
        if getattr(self, "swagger_fake_view", False):
            return Reward.objects.none()
        member = caller(self.request)
        roles = user_roles(user=self.request.user)
        if Role.HR in roles:
            rewards = Reward.objects.filter(organisation=member.organisation)
        else:
            rewards = rewards_for_member(
                member=member, roles=roles, today=organisation_today(member.organisation)
            )
        return rewards.order_by("points_cost", "name", "pk")


# --- redemptions ---------------------------------------------------------------------------


class RedemptionTaskSerializer(serializers.Serializer[Task]):
    id = serializers.IntegerField(read_only=True)
    step = serializers.SerializerMethodField(help_text=gettext_lazy("approve or fulfil"))
    owner = serializers.IntegerField(
        source="owner_id",
        read_only=True,
        allow_null=True,
        help_text=gettext_lazy("The user who claimed the task; null while it waits in the queue."),
    )

    @extend_schema_field(
        {"type": "string", "enum": [RedemptionFlow.approve.name, RedemptionFlow.fulfil.name]}
    )
    def get_step(self, task: Task) -> str:
        return str(task.flow_task.name)


class RedemptionSerializer(serializers.ModelSerializer[Redemption]):
    member_name = serializers.CharField(source="member.name", read_only=True)
    reward_name = serializers.CharField(source="reward.name", read_only=True)
    status = _choice(RedemptionStatus.choices, read_only=True)
    open_task = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "HR's open task (approve or fulfil) and who claimed it; null when none is open."
        )
    )

    class Meta:
        model = Redemption
        fields = [
            "id",
            "member",
            "member_name",
            "reward",
            "reward_name",
            "points",
            "note",
            "status",
            "reason",
            "created_at",
            "decided_at",
            "fulfilled_at",
            "cancelled_at",
            "process",
            "open_task",
        ]
        read_only_fields = fields

    @extend_schema_field(RedemptionTaskSerializer(allow_null=True))
    def get_open_task(self, redemption: Redemption) -> dict[str, Any] | None:
        tasks = open_tasks(redemption)
        return dict(RedemptionTaskSerializer(tasks[0]).data) if tasks else None


class RedemptionRequestSerializer(serializers.Serializer[Any]):
    reward = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text=gettext_lazy("the reward's id")
    )
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", trim_whitespace=True
    )


class RejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500)


class CancelSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RedemptionFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RedemptionStatus.choices)
    reward = django_filters.ModelChoiceFilter(queryset=of_my_organisation(Reward))
    member = django_filters.ModelChoiceFilter(queryset=my_members)

    class Meta:
        model = Redemption
        fields = ["status", "reward", "member"]


def _refusal_code(error: ValidationError, *, user: Any, member: Member, reward_id: int) -> str:
    """A stable code for a request the service refused: the service's or the ledger's own
    (frozen, closed month, veto, balance); else read off the offer's facts, in the
    service's order (offer and eligibility, stock)."""
    given = [e.code for e in getattr(error, "error_list", [error]) if getattr(e, "code", None)]
    if given:
        return str(given[0])
    reward = Reward.objects.filter(pk=reward_id).first()
    if reward is None or reward.organisation_id != member.organisation_id:
        return "not_offered"
    today = organisation_today(member.organisation)
    if reward_refusal(reward=reward, member=member, roles=user_roles(user=user), today=today):
        return "not_offered" if not reward.is_on_offer(today) else "not_eligible"
    if reward.stock < 1:
        return "out_of_stock"
    return "invalid"


def _refused(error: ValidationError, code: str, field: str | None = None) -> Exception:
    details = [exceptions.ErrorDetail(message, code=code) for message in error.messages]
    return exceptions.ValidationError({field: details} if field else details)


@extend_schema_view(
    list=extend_schema(summary="Your redemptions (HR: the organisation's), newest first"),
    retrieve=extend_schema(summary="A redemption"),
)
class RedemptionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Redemption]
):
    """Redemptions: a member sees their own, HR the organisation's. A request spends the
    points at once; HR claims the open task (``claim``), then approves and fulfils, or
    rejects with a reason (refunded); the member may cancel before fulfilment (refunded)."""

    serializer_class = RedemptionSerializer
    filterset_class = RedemptionFilter

    def get_queryset(self) -> QuerySet[Redemption]:
        if getattr(self, "swagger_fake_view", False):
            return Redemption.objects.none()
        caller(self.request)
        return (
            redemption_visible_to(user=self.request.user)
            .select_related("member", "reward", "process")
            .prefetch_related(open_tasks_prefetch())
            .order_by("-created_at", "-pk")
        )

    def _fresh(self, redemption: Redemption) -> Response:
        return Response(RedemptionSerializer(self.get_queryset().get(pk=redemption.pk)).data)

    @extend_schema(
        summary="Redeem a reward",
        request=RedemptionRequestSerializer,
        responses={201: RedemptionSerializer},
        description=(
            "Spends the reward's points now and starts the redemption process, as the "
            "shop's request page. Refusals are 400 with the reason and one of the codes "
            "`does_not_exist` (field `reward`), `not_offered`, `not_eligible`, "
            "`out_of_stock`, `vetoed`, `insufficient_points`, `account_frozen`, "
            "`period_closed`. Send an `Idempotency-Key` header to retry safely."
        ),
    )
    @idempotent
    def create(self, request: Request) -> Response:
        member = caller(request)
        if not RedemptionFlow.start.can_execute(request.user):
            raise PermissionDenied(_("Only active members redeem rewards."))
        body = RedemptionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reward = reward_for_request(user=request.user, reward_id=body.validated_data["reward"])
        if reward is None:
            raise exceptions.ValidationError(
                {
                    "reward": [
                        exceptions.ErrorDetail(
                            _("This reward is not offered."), code="does_not_exist"
                        )
                    ]
                }
            )
        user = request.user

        def act(process: Any) -> Redemption:
            redemption = redemption_request(
                user=user, reward_id=reward.pk, note=body.validated_data["note"]
            )
            redemption.process = process
            redemption.save(update_fields=["process"])
            return redemption

        try:
            redemption: Redemption = flow_start(RedemptionFlow, user=user, act=act)
        except ValidationError as error:
            code = _refusal_code(error, user=user, member=member, reward_id=reward.pk)
            raise _refused(error, code) from error
        return Response(
            RedemptionSerializer(self.get_queryset().get(pk=redemption.pk)).data,
            status=status.HTTP_201_CREATED,
        )

    # --- HR's steps ---

    def _task(self, redemption: Redemption, steps: tuple[Any, ...]) -> Task:
        """The redemption's open task at one of ``steps``, else its last task there (which
        ``task_activation`` answers as done); 409 when the process never reached them."""
        tasks = Task.objects.filter(process_id=redemption.process_id).order_by("-pk")
        candidates = [t for t in tasks if t.flow_task in steps] if redemption.process_id else []
        for task in candidates:
            if task.status in OPEN_TASK:
                return task
        if candidates:
            return candidates[0]
        raise Conflict(
            _("This redemption is not waiting for this step."), code="task_not_available"
        )

    def _hr_redemption(self, request: Request) -> Redemption:
        """The redemption HR acts on: not visible is 404, not HR is 403 (before its state)."""
        caller(request)
        redemption = self.get_object()
        if Role.HR not in user_roles(user=request.user):
            raise PermissionDenied(_("Only HR of the organisation decides on redemptions."))
        return redemption

    def _decide(
        self,
        request: Request,
        steps: tuple[Any, ...],
        decide: Any,
        redemption: Redemption | None = None,
    ) -> Response:
        redemption = redemption or self._hr_redemption(request)
        task = self._task(redemption, steps)
        with task_activation(task_id=task.pk, user=request.user, flow_task=task.flow_task) as act:
            try:
                decide(redemption)
            except ValidationError as error:
                raise _refused(error, self._state_code(redemption)) from error
            act.execute()
        return self._fresh(redemption)

    @staticmethod
    def _state_code(redemption: Redemption) -> str:
        current = Redemption.objects.filter(pk=redemption.pk).values_list("status", flat=True)
        return "invalid" if current.first() in OPEN else "not_open"

    @extend_schema(
        summary="HR approves a requested redemption",
        request=None,
        responses={200: RedemptionSerializer},
        description=(
            "Runs the `approve` task, which HR must have claimed (`claim`); otherwise 409 "
            "`task_not_claimed`. Nobody decides on their own redemption (403)."
        ),
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        user = request.user
        return self._decide(
            request,
            (RedemptionFlow.approve,),
            lambda r: redemption_approve(redemption=r, user=user),
        )

    @extend_schema(
        summary="HR hands an approved redemption over",
        request=None,
        responses={200: RedemptionSerializer},
        description="Runs the claimed `fulfil` task; otherwise as `approve`.",
    )
    @action(detail=True, methods=["post"])
    def fulfil(self, request: Request, pk: str | None = None) -> Response:
        user = request.user
        return self._decide(
            request,
            (RedemptionFlow.fulfil,),
            lambda r: redemption_fulfil(redemption=r, user=user),
        )

    @extend_schema(
        summary="HR rejects a redemption with a reason; the points are refunded",
        request=RejectSerializer,
        responses={200: RedemptionSerializer},
        description="At the claimed `approve` or `fulfil` task, whichever is open.",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        redemption = self._hr_redemption(request)  # 404 and 403 before the body is read
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user, reason = request.user, body.validated_data["reason"]
        return self._decide(
            request,
            (RedemptionFlow.approve, RedemptionFlow.fulfil),
            lambda r: redemption_reject(redemption=r, user=user, reason=reason),
            redemption,
        )

    @extend_schema(
        summary="HR claims the redemption's open task from the queue",
        request=None,
        responses={200: RedemptionSerializer},
        description=(
            "As the queue's assign button: the open `approve` or `fulfil` task becomes "
            "yours. 409 `task_not_available` when it is claimed already or none is open."
        ),
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        redemption = self._hr_redemption(request)
        task = self._task(redemption, (RedemptionFlow.approve, RedemptionFlow.fulfil))
        task_claim(task_id=task.pk, user=request.user)
        return self._fresh(redemption)

    @extend_schema(
        summary="Give a claimed task back to the queue",
        request=None,
        responses={200: RedemptionSerializer},
        description="The owner (or a flow manager) releases the open task for other HR officers.",
    )
    @action(detail=True, methods=["post"])
    def unclaim(self, request: Request, pk: str | None = None) -> Response:
        caller(request)
        redemption = self.get_object()
        task = self._task(redemption, (RedemptionFlow.approve, RedemptionFlow.fulfil))
        task_unclaim(task_id=task.pk, user=request.user)
        return self._fresh(redemption)

    @extend_schema(
        summary="The member cancels before fulfilment; the points are refunded",
        request=CancelSerializer,
        responses={200: RedemptionSerializer},
        description=(
            "Only the member who redeemed (403 for HR); 400 `not_open` once it is "
            "fulfilled, rejected or cancelled."
        ),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        caller(request)
        redemption = self.get_object()  # 404 before the body is read
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            if redemption.process_id is not None:
                with RedemptionFlow.lock(redemption.process_id):
                    redemption_cancel(
                        redemption=redemption,
                        user=request.user,
                        reason=body.validated_data["reason"],
                    )
            else:
                redemption_cancel(
                    redemption=redemption, user=request.user, reason=body.validated_data["reason"]
                )
        except ValidationError as error:
            raise _refused(error, self._state_code(redemption)) from error
        return self._fresh(redemption)


# --- bulk import of attendance and events --------------------------------------------------


class EventRowSerializer(serializers.Serializer[Any]):
    """One event, as a row of the events spreadsheet (texts, checked as the file's cells)."""

    employee_no = serializers.CharField(allow_blank=True, trim_whitespace=True)
    date = serializers.CharField(allow_blank=True, help_text=gettext_lazy("YYYY-MM-DD"))
    rule_code = serializers.CharField(allow_blank=True)
    note = serializers.CharField(allow_blank=True, required=False, default="")
    points = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text=gettext_lazy("Needed for a rule with a range of points."),
    )


class AttendanceDayRowSerializer(serializers.Serializer[Any]):
    """One member's attendance days in a month, as a row of the attendance spreadsheet."""

    employee_no = serializers.CharField(allow_blank=True)
    month = serializers.CharField(allow_blank=True, help_text=gettext_lazy("YYYY-MM"))
    days_present = serializers.CharField(allow_blank=True)
    days_required = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        help_text=gettext_lazy("Empty: the weekdays of the month."),
    )


ROW_SERIALIZERS: dict[str, type[serializers.Serializer[Any]]] = {
    ImportKind.EVENTS: EventRowSerializer,
    ImportKind.ATTENDANCE: AttendanceDayRowSerializer,
}


class ImportRequestSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    rows = serializers.ListField(child=serializers.DictField(), allow_empty=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rows = attrs["rows"]
        if len(rows) > max_rows():
            raise serializers.ValidationError(
                {
                    "rows": [
                        exceptions.ErrorDetail(
                            _("At most %(max)s rows at once; send them in parts.")
                            % {"max": max_rows()},
                            code="too_many_rows",
                        )
                    ]
                }
            )
        parsed = ROW_SERIALIZERS[attrs["kind"]](data=rows, many=True)
        if not parsed.is_valid():
            raise serializers.ValidationError({"rows": parsed.errors})
        attrs["rows"] = parsed.validated_data
        return attrs


def _schema_request(name: str, kind: str, row: type[serializers.Serializer[Any]]) -> Any:
    return type(
        name,
        (serializers.Serializer,),
        {
            "kind": serializers.ChoiceField(choices=[kind]),
            "rows": row(many=True, allow_empty=False),
        },
    )


IMPORT_REQUEST = PolymorphicProxySerializer(
    component_name="AttendanceEventsImport",
    serializers={
        ImportKind.EVENTS.value: _schema_request("EventsImport", "events", EventRowSerializer),
        ImportKind.ATTENDANCE.value: _schema_request(
            "AttendanceDaysImport", "attendance", AttendanceDayRowSerializer
        ),
    },
    resource_type_field_name="kind",
)


class ImportErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text=gettext_lazy("0: the job as a whole"))
    reason = serializers.CharField()


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    kind = _choice(ImportKind.choices, read_only=True)
    status = _choice(ImportStatus.choices, read_only=True)
    row_errors = ImportErrorSerializer(
        source="errors",
        many=True,
        read_only=True,
        help_text=gettext_lazy("The bad rows, or why the run failed (line 0)."),
    )

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "file_name",
            "row_count",
            "error_count",
            "notices_created",
            "items_created",
            "row_errors",
            "created_at",
            "confirmed_at",
            "finished_at",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Import jobs of your organisation (HR), newest first"),
    retrieve=extend_schema(summary="An import job and its progress (HR)"),
)
class AttendanceEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ImportJob]
):
    """HR imports attendance and spot-check events (or attendance days) in bulk, exactly
    as an uploaded spreadsheet: every row is checked, and the rows are imported all
    together or not at all by the import job."""

    serializer_class = ImportJobSerializer
    parser_classes = [JSONParser]
    filterset_fields = ["kind", "status"]

    def get_queryset(self) -> QuerySet[ImportJob]:
        if getattr(self, "swagger_fake_view", False):
            return ImportJob.objects.none()
        caller(self.request)
        import_hr_member(user=self.request.user)
        return import_jobs_visible_to(user=self.request.user).order_by("-created_at", "-pk")

    @extend_schema(
        summary="Import rows of events (or attendance days)",
        request=IMPORT_REQUEST,
        responses={201: ImportJobSerializer},
        description=(
            "`kind` `events`: rows of `employee_no`, `date`, `rule_code`, optional `note` "
            "and `points` (each event becomes an item of an award notice, one notice per "
            "rule and day, issued in your name). `kind` `attendance`: rows of `employee_no`, "
            "`month`, `days_present`, optional `days_required`. The rows get the same checks "
            "as an uploaded file; any bad row is a 400 with one error per bad row (code "
            "`invalid_rows`, field `rows.<index>`, the message names the line, counted from "
            "1) and nothing is created. Otherwise the job is confirmed and runs (status "
            "`done` at once without a task queue; else `queued`, then follow it at "
            "`GET /attendance-events/{id}/`). HR only."
        ),
    )
    def create(self, request: Request) -> Response:
        caller(request)
        import_hr_member(user=request.user)
        body = ImportRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with transaction.atomic():
            job = import_job_from_rows(
                user=request.user,
                kind=body.validated_data["kind"],
                rows=body.validated_data["rows"],
            )
            import_job_confirm(job=job, user=request.user)
        # After the commit: the import ran already (eager task queue) or is queued.
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


def register(router: Any) -> None:
    """Register this module's viewsets on the v1 router."""
    router.register("rewards", RewardViewSet, basename="reward")
    router.register("redemptions", RedemptionViewSet, basename="redemption")
    router.register("attendance-events", AttendanceEventViewSet, basename="attendance-event")
