"""Who and what: members, org units and the rule catalog of the caller's organisation
(read), and API tokens (obtain, revoke your own, HR revokes a member's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from flows.services import declarable_scope
from points.filters import RuleItemFilter
from points.models import AuditEvent, Member, MemberKind, MemberStatus, OrgUnit, RuleItem
from points.roles import Role
from points.selectors.catalog import rule_items_for_unit
from points.selectors.org import member_for_user, unit_subtree, user_roles


def caller(request: Request) -> Member:
    """The caller's member record; a login without one may use no resource (403)."""
    from django.core.exceptions import PermissionDenied

    member = member_for_user(user=request.user)
    if member is None:
        raise PermissionDenied(_("Your login is not a member of any organisation."))
    return member


def of_my_organisation(model: Any) -> Callable[[Any], QuerySet[Any]]:
    """The choices of a filter on ``model`` (a model with an organisation): the caller's
    organisation's rows. An id of another organisation is refused like one that does not
    exist (400), so a filter never tells which ids exist elsewhere."""

    def rows(request: Any) -> QuerySet[Any]:
        member = member_for_user(user=getattr(request, "user", None))
        if member is None:
            return model.objects.none()  # type: ignore[no-any-return]
        return model.objects.filter(organisation_id=member.organisation_id)  # type: ignore[no-any-return]

    return rows


my_units = of_my_organisation(OrgUnit)
my_members = of_my_organisation(Member)


# --- members and units ---------------------------------------------------------------------


class OrgUnitSerializer(serializers.ModelSerializer[OrgUnit]):
    class Meta:
        model = OrgUnit
        fields = ["id", "code", "name", "kind", "parent", "leader"]


class MemberSerializer(serializers.ModelSerializer[Member]):
    unit_name = serializers.CharField(source="unit.name", read_only=True)

    class Meta:
        model = Member
        fields = ["id", "employee_no", "name", "kind", "status", "unit", "unit_name", "position"]


class MemberFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=gettext_lazy("Search"), method="search")
    unit = django_filters.ModelChoiceFilter(
        label=gettext_lazy("unit and its sub-units"), queryset=my_units, method="in_unit"
    )
    status = django_filters.ChoiceFilter(choices=MemberStatus.choices)
    kind = django_filters.ChoiceFilter(choices=MemberKind.choices)

    class Meta:
        model = Member
        fields = ["q", "unit", "status", "kind"]

    def search(self, queryset: QuerySet[Member], name: str, value: str) -> QuerySet[Member]:
        return queryset.filter(Q(name__icontains=value) | Q(employee_no__icontains=value))

    def in_unit(self, queryset: QuerySet[Member], name: str, value: OrgUnit) -> QuerySet[Member]:
        return queryset.filter(unit__in=unit_subtree(unit=value))


class MemberViewSet(viewsets.ReadOnlyModelViewSet[Member]):
    """Members of your organisation (names and units are public within it, as on the
    publicity board)."""

    serializer_class = MemberSerializer
    filterset_class = MemberFilter

    def get_queryset(self) -> QuerySet[Member]:
        if getattr(self, "swagger_fake_view", False):
            return Member.objects.none()
        member = caller(self.request)
        return (
            Member.objects.filter(organisation=member.organisation)
            .select_related("unit")
            .order_by("unit__path", "employee_no")
        )

    @extend_schema(request=None, responses={204: OpenApiResponse(description="revoked")})
    @action(detail=True, methods=["delete"], url_path="token")
    def token(self, request: Request, pk: str | None = None) -> Response:
        """HR revokes a member's API token (the member logs in for a new one)."""
        from django.core.exceptions import PermissionDenied

        if Role.HR not in user_roles(user=request.user):
            raise PermissionDenied(_("Only HR revokes other members' tokens."))
        member = self.get_object()
        actor: Any = request.user
        with transaction.atomic():
            deleted, _rows = Token.objects.filter(user__members=member).delete()
            AuditEvent.objects.create(
                organisation=member.organisation,
                actor=actor,
                action="api.token_revoke",
                member=member,
                object_repr=str(member)[:200],
                data={"revoked": bool(deleted)},
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrgUnitFilter(django_filters.FilterSet):
    parent = django_filters.ModelChoiceFilter(queryset=my_units)

    class Meta:
        model = OrgUnit
        fields = ["parent", "kind"]


class OrgUnitViewSet(viewsets.ReadOnlyModelViewSet[OrgUnit]):
    """The org tree of your organisation, parents before children."""

    serializer_class = OrgUnitSerializer
    filterset_class = OrgUnitFilter

    def get_queryset(self) -> QuerySet[OrgUnit]:
        if getattr(self, "swagger_fake_view", False):
            return OrgUnit.objects.none()
        return OrgUnit.objects.filter(organisation=caller(self.request).organisation).order_by(
            "path"
        )


# --- rule catalog --------------------------------------------------------------------------


class RuleItemSerializer(serializers.ModelSerializer[RuleItem]):
    class Meta:
        model = RuleItem
        fields = [
            "id",
            "code",
            "name",
            "category",
            "kind",
            "points_min",
            "points_max",
            "evidence_required",
            "cap_per_day",
            "cap_per_month",
            "veto",
            "description",
        ]


class RuleItemApiFilter(RuleItemFilter):
    scope = django_filters.ChoiceFilter(
        label=gettext_lazy("scope"),
        choices=[("mine", gettext_lazy("rules for my unit"))],
        method="for_my_unit",
    )

    member = django_filters.ModelChoiceFilter(
        label=gettext_lazy("rules for a member you may declare for"),
        queryset=lambda request: declarable_scope(user=request.user),
        method="for_member",
    )

    class Meta(RuleItemFilter.Meta):
        fields = [*RuleItemFilter.Meta.fields, "scope", "member"]

    def for_my_unit(
        self, queryset: QuerySet[RuleItem], name: str, value: str
    ) -> QuerySet[RuleItem]:
        member = caller(self.request)  # type: ignore[arg-type]
        return queryset.filter(pk__in=rule_items_for_unit(unit=member.unit).values("pk"))

    def for_member(
        self, queryset: QuerySet[RuleItem], name: str, value: Member
    ) -> QuerySet[RuleItem]:
        """A recorder asks for the rules of the member they declare for."""
        return queryset.filter(pk__in=rule_items_for_unit(unit=value.unit).values("pk"))


class RuleItemViewSet(viewsets.ReadOnlyModelViewSet[RuleItem]):
    """The published (active) rule catalog of your organisation."""

    serializer_class = RuleItemSerializer
    filterset_class = RuleItemApiFilter

    def get_queryset(self) -> QuerySet[RuleItem]:
        if getattr(self, "swagger_fake_view", False):
            return RuleItem.objects.none()
        return RuleItem.objects.filter(
            organisation=caller(self.request).organisation, active=True
        ).order_by("category", "code")


# --- tokens --------------------------------------------------------------------------------


TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})


class TokenView(APIView):
    """``POST`` a username and password for your API token (the same token until it is
    revoked); ``DELETE`` revokes your own token."""

    throttle_scope = "token"

    def get_permissions(self) -> Any:
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_throttles(self) -> list[Any]:
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(request=AuthTokenSerializer, responses={200: TokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _created = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: OpenApiResponse(description="revoked")})
    def delete(self, request: Request) -> Response:
        user: Any = request.user
        Token.objects.filter(user=user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: Any) -> None:
    router.register("members", MemberViewSet, basename="member")
    router.register("units", OrgUnitViewSet, basename="unit")
    router.register("rules", RuleItemViewSet, basename="rule")
