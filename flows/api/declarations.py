"""Declarations (申报) with their evidence, award notices (奖扣分通知单), and the caller's
workflow tasks: the inbox, the claimable queue, and the review, revise and sign steps.

Every write runs what the web pages run: the same forms validate (their errors come back
with the form's code, the field dotted as ``items.0.points``), the same services decide and
record, and each flow step executes under the flow lock (``flows.api.base``). Lists are
the services' visibility selectors, so another department's records are 404.

Creating a declaration takes either body:

* ``application/json``: ``{"member": 12, "items": [{"rule_item": 3, "quantity": 1,
  "points": 50, "event_date": "2026-11-10", "place": "…", "description": "…"}]}`` (no
  evidence files; ``member`` defaults to the caller);
* ``multipart/form-data``: the part ``items`` holds that same JSON array as text, ``member``
  is an optional part, and the photos or PDFs of item *N* (0-based) are file parts named
  ``items.N.evidence`` (repeat the part for several files). A bad file is reported on that
  same name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows import views
from flows.api.base import flow_start, idempotent, task_activation, task_claim, task_seen_by
from flows.api.catalog import caller
from flows.flows import (
    AppealFlow,
    AwardNoticeFlow,
    DeclarationFlow,
    RedemptionFlow,
    SummaryFlow,
    tasks_visible_to,
)
from flows.forms import MAX_QUANTITY, AwardNoticeForm, DeclarationItemForm
from flows.models import (
    AwardNotice,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    Evidence,
    NoticeItem,
    NoticeStatus,
)
from flows.services import (
    ReviewAction,
    declaration_may_submit_for,
    declaration_may_withdraw,
    declaration_resubmit,
    declaration_review,
    declaration_submit,
    declaration_visible_to,
    declaration_withdraw,
    notice_issue,
    notice_scope,
    notice_sign,
    notice_visible_to,
)
from flows.tasklock import claimable, prime_queue_permissions
from points.ids import id_from
from points.models import Member, MemberKind
from points.selectors.org import member_for_user

# --- form errors as API errors -------------------------------------------------------------


def _form_detail(form: forms.BaseForm) -> dict[str, list[exceptions.ErrorDetail]]:
    """A bound form's errors, field by field, each with the form's own code."""
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == "__all__" else field): [
            exceptions.ErrorDetail(message, code=error.code or "invalid")
            for error in errors
            for message in error.messages
        ]
        for field, errors in form.errors.as_data().items()
    }


def _error(message: str, code: str) -> list[exceptions.ErrorDetail]:
    return [exceptions.ErrorDetail(message, code=code)]


# --- output --------------------------------------------------------------------------------


class MemberRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


def _person(user: Any) -> dict[str, Any] | None:
    """The member a login acts as (person first), from the prefetched ``user.members``."""
    if user is None:
        return None
    members = sorted(user.members.all(), key=lambda m: (m.kind != MemberKind.PERSON, m.pk))
    return {"id": members[0].pk, "name": members[0].name} if members else None


class DeclarationEvidenceSerializer(serializers.ModelSerializer[Evidence]):
    url = serializers.SerializerMethodField(help_text="Download (an attachment, in scope only).")

    class Meta:
        model = Evidence
        fields = ["id", "url", "original_name", "content_type", "size"]

    def get_url(self, evidence: Evidence) -> str:
        path = reverse("evidence_download", kwargs={"pk": evidence.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class DeclarationItemSerializer(serializers.ModelSerializer[DeclarationItem]):
    rule_code = serializers.CharField(source="rule_item.code", read_only=True)
    rule_name = serializers.CharField(source="rule_item.name", read_only=True)
    signed_total = serializers.IntegerField(
        read_only=True,
        help_text="Points the item claims (or was approved for) × quantity, with the rule's sign.",
    )
    evidence = DeclarationEvidenceSerializer(many=True, read_only=True)

    class Meta:
        model = DeclarationItem
        fields = [
            "id",
            "rule_item",
            "rule_code",
            "rule_name",
            "quantity",
            "points",
            "approved_points",
            "signed_total",
            "event_date",
            "place",
            "description",
            "adjustment_reason",
            "pool_month",
            "evidence",
        ]


class DeclarationSerializer(serializers.ModelSerializer[Declaration]):
    member_name = serializers.CharField(source="member.name", read_only=True)
    submitted_by = serializers.SerializerMethodField()
    reviewer = serializers.SerializerMethodField()
    items = DeclarationItemSerializer(many=True, read_only=True)
    may_withdraw = serializers.SerializerMethodField(
        help_text="The caller may withdraw it now (POST …/withdraw/): they declared it, or it "
        "is about them, and it is not decided yet."
    )

    class Meta:
        model = Declaration
        fields = [
            "id",
            "member",
            "member_name",
            "submitted_by",
            "status",
            "reviewer",
            "decision_reason",
            "process",
            "created_at",
            "updated_at",
            "items",
            "may_withdraw",
        ]

    def get_may_withdraw(self, declaration: Declaration) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user is not None and declaration_may_withdraw(declaration=declaration, user=user)

    @extend_schema_field(MemberRefSerializer(allow_null=True))
    def get_submitted_by(self, declaration: Declaration) -> dict[str, Any] | None:
        return _person(declaration.submitted_by)

    @extend_schema_field(
        MemberRefSerializer(allow_null=True, help_text="Who reviews it now (or decided it).")
    )
    def get_reviewer(self, declaration: Declaration) -> dict[str, Any] | None:
        return _person(declaration.reviewer)


def _declarations(queryset: QuerySet[Declaration]) -> QuerySet[Declaration]:
    """What ``DeclarationSerializer`` reads, in a fixed number of queries."""
    return queryset.select_related("member", "submitted_by", "reviewer").prefetch_related(
        Prefetch(
            "items",
            queryset=DeclarationItem.objects.select_related("rule_item")
            .prefetch_related(Prefetch("evidence", queryset=Evidence.objects.order_by("pk")))
            .order_by("pk"),
        ),
        "submitted_by__members",
        "reviewer__members",
    )


class NoticeItemSerializer(serializers.ModelSerializer[NoticeItem]):
    member_name = serializers.CharField(source="member.name", read_only=True)
    rule_code = serializers.CharField(source="rule_item.code", read_only=True)
    rule_name = serializers.CharField(source="rule_item.name", read_only=True)
    signed_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = NoticeItem
        fields = [
            "id",
            "member",
            "member_name",
            "rule_item",
            "rule_code",
            "rule_name",
            "quantity",
            "points",
            "signed_total",
            "event_date",
            "description",
            "pool_month",
        ]


class AwardNoticeSerializer(serializers.ModelSerializer[AwardNotice]):
    issuer_name = serializers.CharField(source="issuer.name", read_only=True)
    signer = serializers.SerializerMethodField()
    items = NoticeItemSerializer(many=True, read_only=True)

    class Meta:
        model = AwardNotice
        fields = [
            "id",
            "issuer",
            "issuer_name",
            "status",
            "signer",
            "decision_reason",
            "process",
            "created_at",
            "items",
        ]

    @extend_schema_field(
        MemberRefSerializer(allow_null=True, help_text="Who must sign it (above the tier).")
    )
    def get_signer(self, notice: AwardNotice) -> dict[str, Any] | None:
        return _person(notice.signer)


def _notices(queryset: QuerySet[AwardNotice]) -> QuerySet[AwardNotice]:
    return queryset.select_related("issuer", "signer").prefetch_related(
        Prefetch(
            "items",
            queryset=NoticeItem.objects.select_related("member", "rule_item").order_by("pk"),
        ),
        "signer__members",
    )


# --- tasks ---------------------------------------------------------------------------------

#: The flows whose tasks the API lists, with the stable name clients see; the name is also
#: the ``object.type`` and the reverse accessor from the process to its record.
FLOWS: dict[str, Any] = {
    "declaration": DeclarationFlow,
    "award_notice": AwardNoticeFlow,
    "summary": SummaryFlow,
    "appeal": AppealFlow,
    "redemption": RedemptionFlow,
}
FLOW_NAMES = {flow_class: name for name, flow_class in FLOWS.items()}


class ObjectRefSerializer(serializers.Serializer[Any]):
    type = serializers.CharField(help_text="The flow's record: " + ", ".join(FLOWS) + ".")
    id = serializers.IntegerField()


class TaskSerializer(serializers.Serializer[Task]):
    id = serializers.IntegerField(read_only=True)
    flow = serializers.SerializerMethodField()
    flow_title = serializers.SerializerMethodField()
    step = serializers.SerializerMethodField()
    title = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=STATUS.choices, read_only=True)
    owner = serializers.SerializerMethodField()
    created = serializers.DateTimeField(read_only=True)
    process = serializers.IntegerField(source="process_id", read_only=True)
    object = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=list(FLOWS)))
    def get_flow(self, task: Task) -> str:
        return FLOW_NAMES.get(task.flow_task.flow_class, "")

    def get_flow_title(self, task: Task) -> str:
        return str(task.flow_task.flow_class.process_title)

    def get_step(self, task: Task) -> str:
        """The node's name: ``review``, ``revise``, ``sign``, …"""
        return str(task.flow_task.name)

    def get_title(self, task: Task) -> str:
        return str(task.flow_task.task_title or task.flow_task.name)

    @extend_schema_field(MemberRefSerializer(allow_null=True))
    def get_owner(self, task: Task) -> dict[str, Any] | None:
        return _person(task.owner) if task.owner_id else None

    @extend_schema_field(
        ObjectRefSerializer(allow_null=True, help_text="The record the task works on.")
    )
    def get_object(self, task: Task) -> dict[str, Any] | None:
        name = FLOW_NAMES.get(task.flow_task.flow_class)
        if name is None:
            return None
        record = getattr(task.process, name, None)  # select_related: no query
        return {"type": name, "id": record.pk} if record is not None else None


def _tasks(queryset: QuerySet[Task]) -> QuerySet[Task]:
    return (
        queryset.select_related("owner", *(f"process__{name}" for name in FLOWS))
        .prefetch_related("owner__members")
        .order_by("-created", "-pk")
    )


def tasks_inbox(*, user: Any) -> QuerySet[Task]:
    """Tasks assigned to the user and waiting for them, in any flow (viewflow's inbox)."""
    return Task.objects.inbox(list(FLOWS.values()), user)


def tasks_queue(*, user: Any) -> QuerySet[Task]:
    """Unassigned tasks the user may claim: viewflow's queue (the node's permission, on the
    object where it names one, as ``can_assign`` checks), kept to processes the user may
    see (as the scoped task lists of the site), so a global permission never reaches
    into another organisation."""
    prime_queue_permissions(user)
    queue = Task.objects.queue(list(FLOWS.values()), user).filter(owner__isnull=True)
    return claimable(queue.filter(tasks_visible_to(user)), user)


# --- input (the shapes; the forms and services validate) -----------------------------------

ITEM_FIELDS = tuple(DeclarationItemForm.Meta.fields)


class DeclarationItemInputSerializer(serializers.Serializer[Any]):
    """One claimed rule item, as the web form's item (validated by the same form)."""

    rule_item = serializers.IntegerField(help_text="A rule item of the catalog (`/rules/`).")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    points = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Per unit, within the rule's range; omit for a rule with fixed points.",
    )
    event_date = serializers.DateField(help_text="Today or earlier, in a month not closed.")
    place = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=2000)


class DeclarationInputSerializer(serializers.Serializer[Any]):
    member = serializers.IntegerField(
        required=False,
        help_text="Whom the declaration is for; default: yourself. A recorder may name an "
        "active member of their unit's subtree.",
    )
    items = DeclarationItemInputSerializer(
        many=True,
        allow_empty=False,
        help_text=f"1 to {views.MAX_ITEMS} items.",
    )


def _evidence_parts() -> dict[str, Any]:
    return {
        f"items.{n}.evidence": serializers.ListField(
            child=serializers.FileField(),
            required=False,
            help_text=f"Photos (JPEG, PNG, GIF, WebP) or PDFs for item {n}; repeat the part "
            "for several files.",
        )
        for n in range(views.MAX_ITEMS)
    }


class DeclarationUploadSerializer(serializers.Serializer[Any]):
    """The multipart form: ``items`` is the JSON array of the JSON body, as text; the files
    of item N are the parts ``items.N.evidence``."""

    def get_fields(self) -> dict[str, Any]:
        return {
            "member": serializers.IntegerField(
                required=False, help_text="Whom the declaration is for; default: yourself."
            ),
            "items": serializers.CharField(
                help_text='The items as a JSON array, e.g. `[{"rule_item": 3, "quantity": 1, '
                '"event_date": "2026-11-10", "place": "…", "description": "…"}]`.'
            ),
            **_evidence_parts(),
        }


class RevisedItemInputSerializer(DeclarationItemInputSerializer):
    id = serializers.IntegerField(help_text="The item of the declaration this replaces.")


class ReviseInputSerializer(serializers.Serializer[Any]):
    items = RevisedItemInputSerializer(
        many=True,
        allow_empty=False,
        help_text=f"1 to {views.MAX_ITEMS} items.",
    )


class ReviseUploadSerializer(serializers.Serializer[Any]):
    """Multipart: ``items`` as JSON text (each with its ``id``), files as ``items.N.evidence``."""

    def get_fields(self) -> dict[str, Any]:
        return {
            "items": serializers.CharField(help_text="The revised items as a JSON array."),
            **_evidence_parts(),
        }


class _Envelope(serializers.Serializer[Any]):
    """What is checked before the forms: the member is a number, the items a list of
    objects (at most as many as the web form takes)."""

    member = serializers.IntegerField(required=False)
    items = serializers.ListField(
        child=serializers.DictField(), allow_empty=False, max_length=views.MAX_ITEMS
    )


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RequiredReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(help_text="Why (the declarant or issuer is told).")


class AdjustedItemSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(help_text="An item of the declaration.")
    points = serializers.IntegerField(help_text="Approved points per unit, in the rule's range.")


class AdjustSerializer(serializers.Serializer[Any]):
    items = AdjustedItemSerializer(many=True, allow_empty=False)
    reason = serializers.CharField(help_text="Why the points were adjusted.")


class AwardNoticeInputSerializer(serializers.Serializer[Any]):
    members = serializers.ListField(
        child=serializers.IntegerField(), help_text="Active members of the units you lead."
    )
    rule_item = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    points = serializers.IntegerField(
        required=False, allow_null=True, help_text="Per unit; omit for a rule with fixed points."
    )
    event_date = serializers.DateField()
    description = serializers.CharField(max_length=2000)


# --- reading the bodies --------------------------------------------------------------------

MAX_ID = 2**63 - 1


def _too_large(value: Any) -> bool:
    """A number no database row can have (SQLite fails on it rather than finding nothing)."""
    try:
        return abs(int(value)) > MAX_ID
    except (TypeError, ValueError, OverflowError):
        return False


def _scalar_fields(
    data: Mapping[str, Any], allowed: tuple[str, ...]
) -> dict[str, list[exceptions.ErrorDetail]]:
    """Keys the form does not know, and values that are not single values."""
    errors: dict[str, list[exceptions.ErrorDetail]] = {}
    for key, value in data.items():
        if key not in allowed:
            message = (
                _("Evidence files need a multipart/form-data request.")
                if key == "evidence"
                else _("Unknown field.")
            )
            errors[key] = _error(message, "unknown_field")
        elif isinstance(value, list | dict):
            errors[key] = _error(_("Give a single value."), "invalid")
    return errors


def _read_items(request: Request) -> tuple[dict[str, Any], list[MultiValueDict[str, Any]]]:
    """The body as ``{"member"?, "items": [...]}`` and each item's files, from JSON or from
    the multipart form."""
    if request.content_type.startswith("multipart/") or request.content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        raw: dict[str, Any] = {k: request.data.get(k) for k in request.data if k != "items"}
        raw = {k: v for k, v in raw.items() if k not in request.FILES}
        text = request.data.get("items")
        if text is None:
            raise exceptions.ValidationError(
                {"items": _error(_("This field is required."), "required")}
            )
        try:
            raw["items"] = json.loads(text)
        except (TypeError, ValueError):
            raise exceptions.ValidationError(
                {"items": _error(_("Send the items as a JSON array."), "invalid")}
            ) from None
    elif isinstance(request.data, Mapping):
        raw = dict(request.data)
    else:
        raise exceptions.ValidationError(_("Send a JSON object."), code="invalid")
    envelope = _Envelope(data=raw)
    envelope.is_valid(raise_exception=True)
    count = len(envelope.validated_data["items"])
    expected = {f"items.{n}.evidence" for n in range(count)}
    unexpected = {
        key: _error(_("No item of this request takes files under this name."), "unexpected_file")
        for key in request.FILES
        if key not in expected
    }
    if unexpected:
        raise exceptions.ValidationError(unexpected)
    files = [
        MultiValueDict({"evidence": request.FILES.getlist(f"items.{n}.evidence")})
        for n in range(count)
    ]
    return raw, files


def _item_forms(
    items: list[dict[str, Any]],
    files: list[MultiValueDict[str, Any]],
    *,
    member: Member,
    uploader: Any,
    instances: Mapping[int, DeclarationItem] | None = None,
) -> list[DeclarationItemForm]:
    """One bound ``DeclarationItemForm`` per item (with its files); any error in any item is
    raised at once, fields dotted ``items.N.<field>``. The files count to the uploader's
    quota, each item's on top of the earlier items' (``pending``). With ``instances``, each
    item names by ``id`` the existing item it revises."""
    allowed = ITEM_FIELDS if instances is None else (*ITEM_FIELDS, "id")
    detail: list[dict[str, list[exceptions.ErrorDetail]]] = []
    item_forms = []
    seen: set[Any] = set()
    pending = 0
    for data, item_files in zip(items, files, strict=True):
        errors = _scalar_fields(data, allowed)
        instance = None
        if instances is not None:
            instance = instances.get(data.get("id"))  # type: ignore[arg-type]
            if instance is None or data.get("id") in seen:
                errors["id"] = _error(
                    _("Name an item of this declaration, once."), "invalid_choice"
                )
            seen.add(data.get("id"))
        values = {key: data[key] for key in ITEM_FIELDS if key in data}
        form = DeclarationItemForm(
            values,
            item_files,
            member=member,
            uploader=uploader,
            pending=pending,
            instance=instance,
        )
        if "id" not in errors and not form.is_valid():  # no item: nothing to revise
            errors = _form_detail(form) | errors
        pending += sum(checked.size for checked in form.checked_evidence)
        detail.append(errors)
        item_forms.append(form)
    if any(detail):
        raise exceptions.ValidationError({"items": detail})
    return item_forms


# --- declarations --------------------------------------------------------------------------


def _organisation_members(request: Any) -> QuerySet[Member]:
    member = member_for_user(user=request.user) if request is not None else None
    if member is None:
        return Member.objects.none()
    return Member.objects.filter(organisation_id=member.organisation_id)


class DeclarationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DeclarationStatus.choices)
    member = django_filters.ModelChoiceFilter(
        queryset=_organisation_members, label=gettext_lazy("member")
    )

    class Meta:
        model = Declaration
        fields = ["status", "member"]


class WithdrawSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


@extend_schema_view(
    list=extend_schema(
        description="Declarations you may see: your own, those you submitted or review, and "
        "those of the units you lead (HR and the committee: the organisation's)."
    ),
    retrieve=extend_schema(description="One declaration you may see (others are 404)."),
)
class DeclarationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Declaration]
):
    serializer_class = DeclarationSerializer
    filterset_class = DeclarationFilter
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self) -> QuerySet[Declaration]:
        if getattr(self, "swagger_fake_view", False):
            return Declaration.objects.none()
        caller(self.request)
        return _declarations(declaration_visible_to(user=self.request.user)).order_by(
            "-created_at", "-pk"
        )

    @extend_schema(
        request={
            "application/json": DeclarationInputSerializer,
            "multipart/form-data": DeclarationUploadSerializer,
        },
        responses={201: DeclarationSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Send the same key again to get the first response back, "
                "without a second declaration (a key is remembered for 30 days by default).",
            )
        ],
        description="Declare points, as the web start page: the same item form validates each "
        "item (a bad field is reported as `items.N.<field>`), then the declaration goes "
        "to the member's superior for review. Evidence needs a multipart request.",
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user: Any = request.user
        me = caller(request)
        if not DeclarationFlow.start.can_execute(user):
            raise exceptions.PermissionDenied(_("You may not declare points."))
        raw, files = _read_items(request)
        declarant = views.DeclarantForm({"member": raw.get("member", me.pk)}, user=user)
        if not declarant.is_valid():
            raise exceptions.ValidationError(_form_detail(declarant))
        member: Member = declarant.cleaned_data["member"]
        item_forms = _item_forms(raw["items"], files, member=member, uploader=user)
        if not declaration_may_submit_for(user=user, member=member):
            raise exceptions.PermissionDenied(_("You may not declare points for this member."))

        def act(process: Any) -> Declaration:
            return declaration_submit(
                user=user, member=member, item_forms=item_forms, process=process
            )

        declaration = flow_start(DeclarationFlow, user=user, act=act)
        fresh = _declarations(Declaration.objects.filter(pk=declaration.pk)).get()
        data = self.get_serializer(fresh).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The declarant withdraws a declaration not decided yet",
        request=WithdrawSerializer,
        responses={200: DeclarationSerializer},
        description=(
            "Only the member it is about, or whoever declared for them (403 for others who "
            "may see it); 400 `decided` once it is approved, rejected or withdrawn. Its open "
            "task (review or revision) and process are cancelled; none of its points count."
        ),
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        caller(request)
        declaration = self.get_object()  # 404 before the body is read
        body = WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            declaration_withdraw(
                declaration=declaration, user=request.user, reason=body.validated_data["reason"]
            )
        except ValidationError as error:
            raise exceptions.ValidationError(
                [exceptions.ErrorDetail(message, code="decided") for message in error.messages]
            ) from error
        fresh = _declarations(Declaration.objects.filter(pk=declaration.pk)).get()
        return Response(self.get_serializer(fresh).data)


# --- award notices -------------------------------------------------------------------------


class AwardNoticeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=NoticeStatus.choices)

    class Meta:
        model = AwardNotice
        fields = ["status"]


@extend_schema_view(
    list=extend_schema(
        description="Notices you issued, must sign or that name you; those of the units you "
        "lead (HR and the committee: the organisation's)."
    ),
    retrieve=extend_schema(description="One notice you may see (others are 404)."),
)
class AwardNoticeViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[AwardNotice]
):
    serializer_class = AwardNoticeSerializer
    filterset_class = AwardNoticeFilter
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self) -> QuerySet[AwardNotice]:
        if getattr(self, "swagger_fake_view", False):
            return AwardNotice.objects.none()
        caller(self.request)
        return _notices(notice_visible_to(user=self.request.user)).order_by("-created_at", "-pk")

    @extend_schema(
        request=AwardNoticeInputSerializer,
        responses={201: AwardNoticeSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Send the same key again to get the first response back (for 30 "
                "days by default).",
            )
        ],
        description="A leader awards or deducts points to members of the units they lead, as "
        "the web page: within the issuer's authority tier the items go to the pending pool; "
        "above it the next leader up signs (a `sign` task).",
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user: Any = request.user
        issuer = caller(request)
        if not AwardNoticeFlow.start.can_execute(user):
            raise exceptions.PermissionDenied(
                _("Only a leader issues award and deduction notices.")
            )
        data: Any = request.data
        if not isinstance(data, Mapping):
            raise exceptions.ValidationError(_("Send a JSON object."), code="invalid")
        members = data.getlist("members") if hasattr(data, "getlist") else data.get("members")
        if isinstance(members, list) and any(_too_large(value) for value in members):
            # SQLite cannot even compare such a number: no member has it.
            raise exceptions.ValidationError(
                {"members": _error(_("Select a valid choice."), "invalid_choice")}
            )
        form = AwardNoticeForm(data, issuer=issuer, scope=notice_scope(user=user))
        unknown = {
            key: _error(_("Unknown field."), "unknown_field")
            for key in data
            if key not in form.fields
        }
        valid = form.is_valid()
        if unknown or not valid:
            raise exceptions.ValidationError(unknown | ({} if valid else _form_detail(form)))

        def act(process: Any) -> AwardNotice:
            notice = notice_issue(user=user, form=form)
            notice.process = process
            notice.save(update_fields=["process"])
            return notice

        notice = flow_start(AwardNoticeFlow, user=user, act=act)
        fresh = _notices(AwardNotice.objects.filter(pk=notice.pk)).get()
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


# --- task steps ----------------------------------------------------------------------------


def _declaration_of(activation: Any) -> Declaration:
    return Declaration.objects.get(process_id=activation.process.pk)


def _review(task_id: int, user: Any, action_: str, reason: str, adjusted: list[Any]) -> Any:
    """``DeclarationReviewView.post``: the review form, then ``declaration_review``."""
    with task_activation(task_id=task_id, user=user, flow_task=DeclarationFlow.review) as act:
        declaration = _declaration_of(act)
        data = {"action": action_, "reason": reason}
        data |= {f"points_{row['id']}": row["points"] for row in adjusted}
        form = views.ReviewForm(data, declaration=declaration)
        not_adjustable = {
            index: _error(_("Name an adjustable item of this declaration."), "invalid_choice")
            for index, row in enumerate(adjusted)
            if f"points_{row['id']}" not in form.fields
        }
        if not_adjustable or not form.is_valid():
            _raise_review_errors(form, adjusted, not_adjustable)
        declaration_review(
            declaration=declaration,
            user=user,
            action=form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
            adjusted=form.adjusted(),
            process=act.process,
        )
        act.execute()
    return declaration


def _raise_review_errors(
    form: views.ReviewForm, adjusted: list[Any], not_adjustable: dict[int, Any]
) -> None:
    detail = _form_detail(form) if not form.is_valid() else {}
    items: list[dict[str, Any]] = [{} for _row in adjusted]
    for index, row in enumerate(adjusted):
        if index in not_adjustable:
            items[index]["id"] = not_adjustable[index]
        elif f"points_{row['id']}" in detail:
            items[index]["points"] = detail.pop(f"points_{row['id']}")
    if any(items):
        detail["items"] = items  # type: ignore[assignment]
    raise exceptions.ValidationError(detail)


def _sign(task_id: int, user: Any, approve: bool, reason: str) -> Any:
    """``NoticeSignView.post``: the sign form, then ``notice_sign``."""
    with task_activation(task_id=task_id, user=user, flow_task=AwardNoticeFlow.sign) as act:
        notice = AwardNotice.objects.get(process_id=act.process.pk)
        form = views.SignForm({"decision": "approve" if approve else "reject", "reason": reason})
        if not form.is_valid():
            raise exceptions.ValidationError(_form_detail(form))
        notice_sign(
            notice=notice,
            user=user,
            approve=form.cleaned_data["decision"] == "approve",
            reason=form.cleaned_data["reason"],
        )
        act.execute()
    return notice


def _revise(task_id: int, request: Request) -> Any:
    """``DeclarationReviseView.post``: each revised item through the item form (bound to the
    item it replaces), then ``declaration_resubmit``."""
    user: Any = request.user
    raw, files = _read_items(request)
    if "member" in raw:
        raise exceptions.ValidationError({"member": _error(_("Unknown field."), "unknown_field")})
    with task_activation(task_id=task_id, user=user, flow_task=DeclarationFlow.revise) as act:
        declaration = Declaration.objects.select_related(
            "member__organisation", "member__unit"
        ).get(process_id=act.process.pk)
        instances = {item.pk: item for item in declaration.items.all()}
        item_forms = _item_forms(
            raw["items"], files, member=declaration.member, uploader=user, instances=instances
        )
        declaration_resubmit(declaration=declaration, user=user, item_forms=item_forms)
        act.execute()
    return declaration


#: (flow, step) → {action: what runs it}. A task of another step answers 404 for the action.
Handler = Callable[[int, Request, Any], Any]
TASK_ACTIONS: dict[tuple[Any, str], dict[str, Handler]] = {
    (DeclarationFlow, "review"): {
        "approve": lambda pk, request, data: _review(
            pk, request.user, ReviewAction.APPROVE, data["reason"], []
        ),
        "adjust": lambda pk, request, data: _review(
            pk, request.user, ReviewAction.APPROVE, data["reason"], data["items"]
        ),
        "reject": lambda pk, request, data: _review(
            pk, request.user, ReviewAction.REJECT, data["reason"], []
        ),
        "return": lambda pk, request, data: _review(
            pk, request.user, ReviewAction.RETURN, data["reason"], []
        ),
    },
    (DeclarationFlow, "revise"): {"revise": lambda pk, request, data: _revise(pk, request)},
    (AwardNoticeFlow, "sign"): {
        "approve": lambda pk, request, data: _sign(pk, request.user, True, data["reason"]),
        "reject": lambda pk, request, data: _sign(pk, request.user, False, data["reason"]),
    },
}


def _handler(task_id: Any, name: str, user: Any) -> Handler:
    """What runs ``name`` on the task: 404 for a task of a record the user may not see (as
    for no task), and for a task of a step without that action, before the body is read."""
    task_pk = id_from(task_id)
    if task_pk is None:
        raise Http404
    flow_task = task_seen_by(user, task_pk).flow_task
    handler = TASK_ACTIONS.get((flow_task.flow_class, flow_task.name), {}).get(name)
    if handler is None:
        raise Http404
    return handler


TaskOutcome = PolymorphicProxySerializer(
    component_name="TaskOutcome",
    serializers=[DeclarationSerializer, AwardNoticeSerializer],
    resource_type_field_name=None,
)


class TaskFilter(django_filters.FilterSet):
    flow = django_filters.ChoiceFilter(
        choices=[(name, name) for name in FLOWS], method="of_flow", label=gettext_lazy("flow")
    )

    class Meta:
        model = Task
        fields = ["flow"]

    def of_flow(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return queryset.filter(process__flow_class=FLOWS[value])


@extend_schema_view(
    list=extend_schema(description="Your inbox: tasks assigned to you, in any flow."),
    retrieve=extend_schema(description="A task in your inbox or your queue (others are 404)."),
)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[Task]):
    """Your workflow tasks. Act on a task with the action its step offers: a declaration
    review (``review``) is approved, adjusted, rejected or returned; a returned declaration
    (``revise``) is revised; a notice above the issuer's tier (``sign``) is approved or
    rejected. Acting on a task of a record you may not see is 404 (as for no task);
    on one you see but that is not yours, 403; on one already done, 409."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self) -> QuerySet[Task]:
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        caller(self.request)
        user = self.request.user
        if self.action == "queue":
            return _tasks(tasks_queue(user=user))
        if self.action == "retrieve":
            mine = Q(pk__in=tasks_inbox(user=user).values("pk"))
            return _tasks(Task.objects.filter(mine | Q(pk__in=tasks_queue(user=user).values("pk"))))
        return _tasks(tasks_inbox(user=user))

    @extend_schema(
        responses=TaskSerializer(many=True),
        description="Unassigned tasks you may claim (e.g. HR's and the committee's).",
    )
    @action(detail=False, methods=["get"])
    def queue(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str | None = None) -> Response:
        """Take a task from your queue (as the web "assign" button)."""
        caller(request)
        task_id = id_from(pk)
        if task_id is None:
            raise Http404
        task = task_claim(task_id=task_id, user=request.user)
        return Response(TaskSerializer(_tasks(Task.objects.filter(pk=task.pk)).get()).data)

    def _act(self, request: Request, pk: str | None, name: str, body: Any) -> Response:
        caller(request)
        handler = _handler(pk, name, request.user)  # 404s come before reading the body
        data: dict[str, Any] = {}
        if body is not None:
            serializer = body(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        record = handler(int(pk or 0), request, data)
        if isinstance(record, Declaration):
            fresh: Any = _declarations(Declaration.objects.filter(pk=record.pk)).get()
            return Response(DeclarationSerializer(fresh, context={"request": request}).data)
        fresh = _notices(AwardNotice.objects.filter(pk=record.pk)).get()
        return Response(AwardNoticeSerializer(fresh, context={"request": request}).data)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: TaskOutcome},
        description="`review`: approve the declaration as declared (above your authority tier "
        "it escalates to the next leader up). `sign`: sign the notice. Returns the record.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, "approve", ReasonSerializer)

    @extend_schema(
        request=RequiredReasonSerializer,
        responses={200: TaskOutcome},
        description="`review`: reject the declaration. `sign`: refuse the notice.",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, "reject", RequiredReasonSerializer)

    @extend_schema(
        request=AdjustSerializer,
        responses={200: DeclarationSerializer},
        description="`review`: approve with other points per unit for some items (within each "
        "rule's range), with a reason.",
    )
    @action(detail=True, methods=["post"])
    def adjust(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, "adjust", AdjustSerializer)

    @extend_schema(
        request=RequiredReasonSerializer,
        responses={200: DeclarationSerializer},
        description="`review`: return the declaration to the declarant for revision.",
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, "return", RequiredReasonSerializer)

    @extend_schema(
        request={
            "application/json": ReviseInputSerializer,
            "multipart/form-data": ReviseUploadSerializer,
        },
        responses={200: DeclarationSerializer},
        description="`revise`: the declarant sends a returned declaration back to its reviewer "
        "with revised items (each names the item it replaces by `id`; items not named stay "
        "as they were).",
    )
    @action(detail=True, methods=["post"])
    def revise(self, request: Request, pk: str | None = None) -> Response:
        return self._act(request, pk, "revise", None)


# --- wiring --------------------------------------------------------------------------------

#: Extra paths under /api/v1/ that are not router viewsets.
urlpatterns: list[Any] = []


def register(router: Any) -> None:
    """Register this module's viewsets on the v1 router."""
    router.register("declarations", DeclarationViewSet, basename="declaration")
    router.register("notices", AwardNoticeViewSet, basename="notice")
    router.register("tasks", TaskViewSet, basename="task")
