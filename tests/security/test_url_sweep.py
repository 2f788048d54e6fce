"""The URL permission sweep: every URL pattern of the project (``get_resolver()``, walked
recursively: the site, viewflow's generated flow pages, the admin, the reports, evidence
and the REST API) must be in the tables below (a public route in no other):

* ``CASES``: a concrete URL built from the objects of ``sweep_cases.build_world`` and the
  roles that must be refused there, with the refusal expected (403/404, the admin's login
  page, a 400 for a parameter naming another organisation's unit), and when cheap the role
  that may use the same URL and gets 200/302 (so a refusal is never a URL that 404s for
  everyone). Cross-department and self-approval refusals are cases of their own.
* ``AUTHENTICATED``: pages for everyone logged in (lists already scoped to the user); the
  refusal proved is the anonymous one, and a logged-in member gets 200.
* ``PUBLIC``: the few pages anyone may open (log in, reset a password, the language
  switch, the API's schema, docs and token), each with the answer an anonymous caller gets.

A route in none of them fails ``test_every_route_has_a_denial_test`` (a new view needs a
denial test); a table entry that matches no route fails it too (stale entries). Every
route is requested anonymously, GET and POST: a page redirects to the login page, the API
answers 401, nothing answers 5xx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from viewflow.workflow.models import Task

from tests.security.sweep_cases import World, build_world

# --- outcomes ------------------------------------------------------------------------------

LOGIN = "login"  # 302 to /accounts/login/
ADMIN_LOGIN = "admin-login"  # 302 to /admin/login/ (the admin's own login page)
ADMIN_INDEX = "admin-index"  # 302 to /admin/: the admin's "no such object" for other rows
HOME = "home"  # 302 to / (viewflow's task index page for a user without rights)
REDIRECT = "redirect"  # any other redirect
DENIED = frozenset({"403", "404"})
FORBIDDEN = frozenset({"403"})
NOT_FOUND = frozenset({"404"})
OK = frozenset({"200"})
OK_OR_REDIRECT = frozenset({"200", REDIRECT})


def outcome(response: Any) -> str:
    if response.status_code in (301, 302, 303):
        path = urlsplit(response["Location"]).path
        if path.startswith("/accounts/login/"):
            return LOGIN
        if path.startswith("/admin/login/"):
            return ADMIN_LOGIN
        if path == "/admin/":
            return ADMIN_INDEX
        if path == "/":
            return HOME
        return REDIRECT
    return str(response.status_code)


# --- the routes ----------------------------------------------------------------------------


def walk(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every route as Django's resolver writes it in ``ResolverMatch.route`` (a nested
    regex loses its leading ``^``)."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = str(pattern.pattern)
        if prefix:
            route = prefix + route.removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from walk(pattern, route)
        else:
            assert isinstance(pattern, URLPattern)
            yield route


# --- the tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``url`` is formatted with ``World.ids``; each of ``denied`` (role names, see
    ``World.member``) must get an outcome in ``deny`` for every method of ``methods``;
    ``allowed`` (if any) gets an outcome in ``allow`` for ``allow_method``."""

    route: str
    url: str
    denied: tuple[str, ...]
    deny: frozenset[str] = DENIED
    methods: tuple[str, ...] = ("get",)
    data: dict[str, Any] = field(default_factory=dict)
    allowed: str | None = None
    allow: frozenset[str] = OK
    allow_method: str = "get"
    check: str | None = None  # a name in CHECKS: the refused request changed nothing
    #: Follow one redirect: viewflow's and the admin's bare ``<pk>/`` pages only redirect
    #: to the real page, which decides.
    follow: bool = False
    why: str = ""

    @property
    def id(self) -> str:
        return f"{self.url}|{','.join(self.denied)}|{'+'.join(self.methods)}"


CASES: list[Case] = []
#: route → URL: pages for every logged-in user (the refusal is the anonymous one).
AUTHENTICATED: dict[str, str] = {}
#: route → (URL, anonymous GET outcomes, anonymous POST outcomes), with the reason.
PUBLIC: dict[str, tuple[str, frozenset[str], frozenset[str], str]] = {}


def case(route: str, url: str, denied: tuple[str, ...] | str, **kwargs: Any) -> None:
    CASES.append(
        Case(
            route=route, url=url, denied=(denied,) if isinstance(denied, str) else denied, **kwargs
        )
    )


GET_POST = ("get", "post")
ACT = {"action": "approve", "decision": "approve", "reason": "x", "submit": "1"}

# -- viewflow's pages of each flow ---------------------------------------------------------

TASK_ACTIONS = ["", "detail/", "execute/", "assign/", "unassign/", "revive/", "undo/", "cancel/"]


def flow_node(
    base: str,
    key: str,
    node: str,
    actions: list[str],
    outsiders: tuple[str, ...],
    *,
    viewer: str | None = None,
    executor: str | None = None,
    assigner: str | None = None,
    manager_actions: tuple[str, ...] = (),
    bystanders: tuple[str, ...] = (),
) -> None:
    """The task pages of one node: outsiders are refused every one, GET and POST, and
    bystanders (who may follow the process) every page that acts; a participant opens the
    task's page, its owner the form, the queue's member the assign page, a superuser
    (viewflow's manage permission) the undo/cancel/revive pages."""
    for action in actions:
        url = f"/{base}/{{{key}_proc}}/{node}/{{{key}_{node}}}/{action}"
        allowed = None
        if action in VIEW_ONLY and viewer:
            allowed = viewer
        elif action == "execute/" and executor:
            allowed = executor
        elif action == "assign/" and assigner:
            allowed = assigner
        elif action in manager_actions:
            allowed = "root"
        case(
            f"{base}/<int:process_pk>/{node}/<int:task_pk>/{action}",
            url,
            outsiders if action in VIEW_ONLY else (*outsiders, *bystanders),
            methods=GET_POST,
            data=ACT,
            allowed=allowed,
            follow=action == "",
            deny=DENIED | {HOME} if action == "" and "execute/" in actions else DENIED,
        )


def flow_pages(base: str, key: str, outsiders: tuple[str, ...], viewer: str) -> None:
    """The flow's lists are scoped (everyone logged in); a process's page, chart and
    cancel button are refused to outsiders."""
    for action in ["", "list/", "tasks/", "chart/", "inbox/", "queue/", "archive/"]:
        AUTHENTICATED[f"{base}/{action}"] = f"/{base}/{action}"
    case(f"{base}/<int:process_pk>/", f"/{base}/{{{key}_proc}}/", outsiders, allowed=viewer)
    case(
        f"{base}/<int:process_pk>/chart/",
        f"/{base}/{{{key}_proc}}/chart/",
        outsiders,
        allowed=viewer,
    )
    case(
        f"{base}/<int:process_pk>/cancel/",
        f"/{base}/{{{key}_proc}}/cancel/",
        (*outsiders, viewer),
        methods=GET_POST,
        allowed="root",
    )


VIEW_ONLY = ["", "detail/"]
END = ["", "detail/", "revive/", "undo/"]
START = ["", "detail/", "undo/"]
SWITCH = ["", "detail/", "revive/", "undo/", "cancel/"]
MANAGE = ("undo/", "cancel/", "revive/")

# Declarations: worker A1's, reviewed by leader A1. Leader B (another department) and the
# other organisation's HR are refused every page of it.
D = "declarations/declaration"
OUT_D = ("leader_b", "other_hr")
flow_pages(D, "dreview", OUT_D, "worker_a1")
flow_node(D, "dreview", "start", START, OUT_D, viewer="worker_a1", manager_actions=MANAGE)
flow_node(
    D,
    "dreview",
    "review",
    TASK_ACTIONS,
    OUT_D,
    viewer="leader_a1",
    executor="leader_a1",
    bystanders=("worker_a1", "hr"),
)
flow_node(D, "dreturned", "route", SWITCH, OUT_D, viewer="worker_a1", manager_actions=MANAGE)
flow_node(
    D,
    "dreturned",
    "revise",
    TASK_ACTIONS,
    OUT_D,
    viewer="worker_a1",
    executor="worker_a1",
    bystanders=("leader_a1",),
)
flow_node(D, "dapproved", "end", END, OUT_D, viewer="worker_a1", manager_actions=MANAGE)
case(
    f"{D}/start/",
    f"/{D}/start/",
    "root",
    deny=FORBIDDEN,
    allowed="worker_a1",
    why="a login without an active member may not declare",
)
# Withdrawing a declaration: only its declarant (the member, or whoever declared for them);
# the reviewer and HR, who may see it, are refused as those who may not.
case(
    f"{D}/withdraw/<int:pk>/",
    f"/{D}/withdraw/{{d_review}}/",
    ("leader_a1", "hr", *OUT_D),
    deny=NOT_FOUND,
    methods=GET_POST,
    data={"confirm": "1", "reason": "x"},
    check="declaration_submitted:d_review",
    allowed="worker_a1",
    allow=frozenset({REDIRECT}),
    allow_method="post",
)
# Self-approval: the declarant may not decide their own review, nor may worker B when the
# review task of worker B's declaration was handed to worker B.
R = f"{D}/<int:process_pk>/review/<int:task_pk>/execute/"
case(
    R,
    f"/{D}/{{dreview_proc}}/review/{{dreview_review}}/execute/",
    "worker_a1",
    methods=GET_POST,
    data=ACT,
    check="declaration_submitted:d_review",
)
case(
    R,
    f"/{D}/{{down_proc}}/review/{{down_review}}/execute/",
    "worker_b",
    deny=FORBIDDEN,
    methods=("post",),
    data=ACT,
    check="declaration_submitted:d_own",
    allowed="worker_b",
    why="the task is worker B's, the form opens; the decision is refused",
)

# Award notices: leader A1's, above the tier, to be signed by leader A.
N = "declarations/awardnotice"
OUT_N = ("leader_b", "other_hr")
flow_pages(N, "nsigning", OUT_N, "leader_a")
flow_node(N, "nsigning", "start", START, OUT_N, viewer="leader_a1", manager_actions=MANAGE)
flow_node(N, "nsigning", "route", SWITCH, OUT_N, viewer="leader_a1", manager_actions=MANAGE)
flow_node(
    N,
    "nsigning",
    "sign",
    TASK_ACTIONS,
    OUT_N,
    viewer="leader_a",
    executor="leader_a",
    bystanders=("leader_a1", "worker_a1"),
)
flow_node(N, "nended", "end", END, OUT_N, viewer="leader_a1", manager_actions=MANAGE)
case(
    f"{N}/start/",
    f"/{N}/start/",
    "worker_a1",
    deny=FORBIDDEN,
    allowed="leader_a1",
    why="only leaders issue notices",
)
case(
    R.replace("review", "sign").replace(D, N),
    f"/{N}/{{nsigning_proc}}/sign/{{nsigning_sign}}/execute/",
    "leader_a1",
    methods=GET_POST,
    data=ACT,
    why="the issuer does not sign their own notice",
)

# Summaries: batch 2 (department A) in its window; batch 1 (the company) posted; a draft
# of department B being prepared by HR.
S = "publicity/summary"
OUT_S = ("worker_b", "other_hr")
flow_pages(S, "sopen", OUT_S, "worker_a1")
flow_node(S, "sopen", "start", START, OUT_S, viewer="hr", manager_actions=MANAGE)
flow_node(
    S,
    "sdraft",
    "prepare",
    TASK_ACTIONS,
    ("worker_b", "other_hr"),
    viewer="hr",
    executor="hr",
    bystanders=("hr2", "committee"),
)
flow_node(S, "sopen", "signoff", SWITCH, OUT_S, viewer="hr", manager_actions=MANAGE)
flow_node(S, "sopen", "signed", SWITCH, OUT_S, viewer="hr", manager_actions=MANAGE)
flow_node(
    S,
    "sopen",
    "publicity",
    ["", "detail/", "revive/", "cancel/"],
    OUT_S,
    viewer="hr",
    manager_actions=MANAGE,
)
flow_node(
    S,
    "sposted",
    "post",
    SWITCH,
    ("other_hr", "other_committee"),
    viewer="worker_b",
    manager_actions=MANAGE,
)
flow_node(
    S,
    "sposted",
    "end",
    END,
    ("other_hr", "other_committee"),
    viewer="worker_b",
    manager_actions=MANAGE,
)
case(
    f"{S}/start/",
    f"/{S}/start/",
    ("worker_a1", "leader_a", "committee"),
    deny=FORBIDDEN,
    methods=GET_POST,
    data={"scope": "{dept_b}", "on": "2026-11-20"},
    allowed="hr",
    check="no_new_summary",
)

# Appeals: leader A1's on worker A1's item of batch 2 (waiting for the ruling), worker A1's
# on leader A1's item (waiting for HR), worker B's on batch 1 (ruled).
A = "publicity/appeal"
OUT_A = ("worker_b", "other_hr", "other_committee")
flow_pages(A, "aruling", OUT_A, "leader_a1")
flow_node(A, "aruling", "start", START, OUT_A, viewer="leader_a1", manager_actions=MANAGE)
flow_node(
    A,
    "awaiting",
    "reexamine",
    TASK_ACTIONS,
    ("worker_b", "other_hr"),
    viewer="hr",
    executor="hr",
    bystanders=("hr2", "committee", "worker_a1"),
)
flow_node(
    A,
    "aruling",
    "rule",
    TASK_ACTIONS,
    ("worker_b", "other_committee"),
    viewer="committee",
    assigner="committee",
    bystanders=("hr", "leader_a1"),
)
flow_node(
    A, "aruled", "end", END, ("leader_b", "other_hr"), viewer="worker_b", manager_actions=MANAGE
)
case(
    f"{A}/start/",
    f"/{A}/start/?item={{s_open_item}}",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    methods=GET_POST,
    data={"item": "{s_open_item}", "reason": "x"},
    allowed="leader_a",
    check="no_new_appeal",
    why="batch 2 is department A's",
)

# Redemptions: worker A1's (waiting for HR), worker B's (approved), leader A1's (rejected).
M = "shop/redemption"
OUT_R = ("leader_a1", "other_hr")
flow_pages(M, "rnew", ("worker_b", "other_hr"), "worker_a1")
flow_node(
    M, "rnew", "start", START, ("worker_b", "other_hr"), viewer="worker_a1", manager_actions=MANAGE
)
flow_node(
    M,
    "rnew",
    "approve",
    TASK_ACTIONS,
    ("worker_b", "other_hr"),
    viewer="worker_a1",
    assigner="hr",
    bystanders=("worker_a1", "leader_a", "committee"),
)
flow_node(
    M,
    "rapproved",
    "approved",
    SWITCH,
    ("worker_a1", "other_hr"),
    viewer="worker_b",
    manager_actions=MANAGE,
)
flow_node(
    M,
    "rapproved",
    "fulfil",
    TASK_ACTIONS,
    ("worker_a1", "other_hr"),
    viewer="worker_b",
    assigner="hr",
    bystanders=("worker_b", "committee"),
)
flow_node(
    M, "rrejected", "end", END, ("worker_b", "other_hr"), viewer="leader_a1", manager_actions=MANAGE
)
case(
    f"{M}/start/",
    f"/{M}/start/?reward={{reward}}",
    "other_worker_a1",
    deny=NOT_FOUND,
    methods=GET_POST,
    data={"reward": "{reward}"},
    allowed="worker_a1",
    why="a reward of another organisation",
)
case(
    f"{M}/withdraw/<int:pk>/",
    f"/{M}/withdraw/{{r_new}}/",
    ("worker_b", "other_hr"),
    deny=NOT_FOUND,
    methods=GET_POST,  # the confirmation page, and the confirmed cancellation
    data={"confirm": "yes"},
    allowed="worker_a1",
    allow=frozenset({REDIRECT}),
    allow_method="post",
)
for base in (D, N, S, A, M):
    for bulk in ("queue/assign/", "inbox/unassign/"):
        case(
            f"{base}/{bulk}",
            f"/{base}/{bulk}",
            ("worker_b", "other_hr"),
            deny=OK_OR_REDIRECT,
            methods=("post",),
            data={"tasks": "{rnew_approve}"},
            check="bulk_untouched",
            why="viewflow's bulk claim acts only on the user's own queue/inbox",
        )

# -- the site's own pages --------------------------------------------------------------------

for route in (
    "",
    "points/",
    "points/me/",
    "points/rule_catalog/",
    "declarations/",
    "publicity/",
    "publicity/board/",
    "shop/",
    "shop/rewards/",
    "notifications/",
    # lists and approves only the user's own review tasks: tests/flows/test_bulk_approve.py
    "declarations/declaration/bulk-approve/",
    "reports/statement/form/",
    "accounts/password_change/",
    "accounts/password_change/done/",
):
    AUTHENTICATED[route] = f"/{route}"
AUTHENTICATED["reports/statement/"] = "/reports/statement/?format=csv"

case("points/dashboard/", "/points/dashboard/", "worker_a1", deny=FORBIDDEN, allowed="leader_a")
case(
    "points/dashboard/",
    "/points/dashboard/?unit={dept_b}",
    "leader_a",
    deny=NOT_FOUND,
    allowed="hr",
    why="another department's dashboard",
)
case("points/audit/", "/points/audit/", ("worker_a1", "leader_a"), deny=FORBIDDEN)
case(
    "points/audit/",
    "/points/audit/",
    "worker_b",
    deny=FORBIDDEN,
    allowed="hr",
    why="the log of a world where declarations were submitted (data with an 'items' key)",
)
case(
    "declarations/imports/",
    "/declarations/imports/",
    ("worker_a1", "leader_a", "committee"),
    deny=FORBIDDEN,
    methods=GET_POST,
    allowed="hr",
)
case(
    "declarations/imports/template/<str:kind>.<str:fmt>",
    "/declarations/imports/template/events.csv",
    ("worker_a1", "leader_a"),
    deny=FORBIDDEN,
    allowed="hr",
)
for suffix, methods in (("", ("get",)), ("status/", ("get",)), ("confirm/", ("post",))):
    case(
        f"declarations/imports/<int:pk>/{suffix}",
        f"/declarations/imports/{{import}}/{suffix}",
        ("worker_a1", "leader_a"),
        deny=FORBIDDEN,
        methods=methods,
        allowed="hr" if suffix != "confirm/" else None,
    )
    case(
        f"declarations/imports/<int:pk>/{suffix}",
        f"/declarations/imports/{{import}}/{suffix}",
        "other_hr",
        deny=NOT_FOUND,
        methods=methods,
        check="import_ready",
    )

# The publicity board: batch 2 is department A's; department B is refused page and PDF.
for suffix in ("", "pdf/"):
    case(
        f"publicity/board/<int:pk>/{suffix}",
        f"/publicity/board/{{s_open}}/{suffix}",
        ("worker_b", "leader_b", "other_hr"),
        deny=NOT_FOUND,
        allowed="worker_a1",
    )
    case(
        f"publicity/board/<int:pk>/{suffix}",
        f"/publicity/board/{{s_draft}}/{suffix}",
        ("worker_b", "committee"),
        deny=NOT_FOUND,
        why="a draft is on nobody's board",
    )
AUTHENTICATED["publicity/board/signoff/"] = "/publicity/board/signoff/"  # one's own votes
case(
    "publicity/board/signoff/<int:pk>/",
    "/publicity/board/signoff/{s_draft}/",
    ("worker_a1", "hr", "leader_a"),
    deny=FORBIDDEN,
    methods=GET_POST,
    data=ACT,
    allowed="committee",
)
case(
    "publicity/board/signoff/<int:pk>/",
    "/publicity/board/signoff/{s_draft}/",
    "other_committee",
    deny=NOT_FOUND,
    methods=GET_POST,
    data=ACT,
)

case(
    "shop/rewards/<int:pk>/picture/",
    "/shop/rewards/{reward}/picture/",
    "other_worker_a1",
    deny=NOT_FOUND,
    allowed="worker_a1",
)
case("shop/prizes/", "/shop/prizes/", ("worker_a1", "committee"), deny=FORBIDDEN, allowed="hr")
case(
    "shop/prizes/<int:pk>/paid/",
    "/shop/prizes/{prize}/paid/",
    ("worker_a1", "leader_a"),
    deny=FORBIDDEN,
    methods=("post",),
    allowed="hr",
    allow=frozenset({REDIRECT}),
    allow_method="post",
)
case(
    "shop/prizes/<int:pk>/paid/",
    "/shop/prizes/{prize}/paid/",
    "other_hr",
    deny=NOT_FOUND,
    methods=("post",),
)

# Evidence files: of a declaration (worker A1's under review) and of an appeal.
case(
    "evidence/<int:pk>/",
    "/evidence/{evidence}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="leader_a1",
    why="another department's declaration",
)
case(
    "evidence/<int:pk>/",
    "/evidence/{appeal_evidence}/",
    ("leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="worker_b",
    why="an appeal the user has no part in",
)

# Member search of long pickers: a notice's members only for whoever leads a unit (what it
# answers, and for a recorder's declare-for, in tests/flows/test_member_search.py).
case(
    "members/search/",
    "/members/search/?for=notice&q=a",
    ("worker_a1", "worker_b"),
    deny=FORBIDDEN,
    allowed="leader_a",
)

# Reports: statements (PDF, CSV, XLSX), rankings and the ledger export.
ST = "reports/statement/<int:member_id>/"
case(
    ST,
    "/reports/statement/{worker_a1}/",
    ("worker_b", "leader_a", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="hr",
    why="only HR reads another member's statement",
)
for fmt in ("csv", "xlsx"):
    case(
        ST,
        f"/reports/statement/{{worker_a1}}/?format={fmt}",
        ("leader_a1", "other_hr"),
        deny=NOT_FOUND,
        allowed="hr",
    )
case(
    "reports/ranking/", "/reports/ranking/", ("worker_a1", "leader_a"), deny=FORBIDDEN, allowed="hr"
)
for fmt in ("csv", "xlsx"):
    case(
        "reports/ranking/",
        f"/reports/ranking/?format={fmt}",
        ("worker_b", "leader_b"),
        deny=FORBIDDEN,
        allowed="committee",
    )
    case(
        "reports/ranking/",
        f"/reports/ranking/?format={fmt}&unit={{other_unit}}",
        ("hr", "committee"),
        deny=NOT_FOUND,
        why="a unit of another organisation",
    )
    case(
        "reports/ledger/",
        f"/reports/ledger/?format={fmt}",
        ("worker_a1", "leader_a", "committee"),
        deny=FORBIDDEN,
        allowed="hr",
    )
    case(
        "reports/ledger/",
        f"/reports/ledger/?format={fmt}&unit={{other_unit}}",
        "hr",
        deny=frozenset({"400"}),
        why="a unit of another organisation is refused",
    )
case("reports/ledger/", "/reports/ledger/", ("worker_a1", "leader_a"), deny=FORBIDDEN, allowed="hr")

# -- the public pages ------------------------------------------------------------------------

ANY_PAGE = frozenset({"200", REDIRECT, HOME})
NO_POST = frozenset({"405"})
PUBLIC.update(
    {
        "accounts/login/": ("/accounts/login/", OK, OK, "the login page"),
        "accounts/logout/": (
            "/accounts/logout/",
            frozenset({LOGIN}),
            frozenset({LOGIN}),
            "logging out sends to the login page",
        ),
        "accounts/password_reset/": ("/accounts/password_reset/", OK, OK, "forgot password"),
        "accounts/password_reset/done/": ("/accounts/password_reset/done/", OK, NO_POST, "sent"),
        "accounts/reset/<uidb64>/<token>/": ("/accounts/reset/MQ/bad-token/", OK, OK, "link"),
        "accounts/reset/done/": ("/accounts/reset/done/", OK, NO_POST, "password was reset"),
        "i18n/setlang/": ("/i18n/setlang/", ANY_PAGE, ANY_PAGE, "the language switch"),
        "favicon.ico": ("/favicon.ico", frozenset({REDIRECT}), frozenset({REDIRECT}), "icon"),
        "admin/login/": ("/admin/login/", OK, OK, "the admin's login page"),
        "admin/logout/": (
            "/admin/logout/",
            frozenset({ADMIN_LOGIN}),
            frozenset({ADMIN_LOGIN, "200"}),
            "logging out",
        ),
        "api/schema/": ("/api/schema/", OK, frozenset({"405"}), "the OpenAPI schema"),
        "api/docs/": ("/api/docs/", OK, frozenset({"405"}), "Swagger UI"),
        "api/v1/tokens/": (
            "/api/v1/tokens/",
            frozenset({"401"}),
            frozenset({"400"}),
            "POST a password for a token (GET/DELETE need the token)",
        ),
    }
)

# -- the admin -------------------------------------------------------------------------------

ADMIN_OBJECT = [
    "<path:object_id>/history/",
    "<path:object_id>/delete/",
    "<path:object_id>/change/",
    "<path:object_id>/",
]
#: Models of other packages (HR, though staff, holds none of their permissions) and the
#: project's own, scoped to the user's organisation.
THIRD_PARTY = [
    "auth/group",
    "auth/user",
    "authtoken/tokenproxy",
    "django_celery_beat/periodictask",
    "django_celery_beat/clockedschedule",
    "django_celery_beat/crontabschedule",
    "django_celery_beat/solarschedule",
    "django_celery_beat/intervalschedule",
    "axes/accessattempt",
    "axes/accesslog",
    "axes/accessfailurelog",
    "viewflow/process",
    "viewflow/task",
]
SCOPED = [
    "points/organisation",
    "points/policy",
    "points/authoritytier",
    "points/orgunit",
    "points/member",
    "points/ruleitem",
    "points/ledgerentry",
    "points/account",
    "points/period",
    "points/auditevent",
    "points/fixedpointrule",
    "points/attendance",
    "points/reward",
    "points/prizetable",
    "points/prizeaward",
]
IMPORTS = {"points/orgunit", "points/member", "points/ruleitem"}


#: Routes nobody may use (read-only models; policies and rewards are never deleted): the
#: superuser's 403 proves the URL reaches the permission check.
NOBODY = {
    f"{model}/{route}"
    for model in (
        "points/ledgerentry",
        "points/account",
        "points/period",
        "points/auditevent",
        "points/prizeaward",
        "axes/accessattempt",
        "axes/accesslog",
        "axes/accessfailurelog",
        "viewflow/process",
        "viewflow/task",
    )
    for route in ("add/",)
} | {
    f"{model}/<path:object_id>/delete/"
    for model in (
        "points/ledgerentry",
        "points/account",
        "points/period",
        "points/auditevent",
        "points/prizeaward",
        "points/policy",
        "points/reward",
        "points/prizetable",
    )
}


def admin_model(model: str, scoped: bool) -> None:
    """A non-staff member is sent to the admin's login page everywhere; HR (staff) is
    refused the third-party models; another organisation's staff never open a row."""
    routes = ["", "add/", *ADMIN_OBJECT]
    if model in IMPORTS:
        routes += ["process_import/", "import/", "export/"]
    for route in routes:
        object_id = "{admin_" + model.replace("/", "_") + "}"
        url = f"/admin/{model}/{route.replace('<path:object_id>', object_id)}"
        key, follow = f"{model}/{route}", route == "<path:object_id>/"
        root: dict[str, Any] = {"allowed": "root", "allow": OK_OR_REDIRECT}
        if key in NOBODY:
            root["allow"] = FORBIDDEN
        if route == "process_import/":
            root |= {"allow_method": "post"}
        case(
            f"admin/{model}/{route}",
            url,
            "worker_a1",
            deny=frozenset({ADMIN_LOGIN}),
            methods=GET_POST,
            follow=follow,
            **root,
        )
        if model == "viewflow/process":
            case(
                f"admin/{model}/{route}",
                url,
                "other_hr",
                deny=frozenset({ADMIN_INDEX, "403", "404"}),
                follow=follow,
            )
        elif not scoped:
            case(
                f"admin/{model}/{route}", url, "hr", deny=FORBIDDEN, methods=GET_POST, follow=follow
            )
        elif route in ADMIN_OBJECT:
            case(
                f"admin/{model}/{route}",
                url,
                ("other_admin", "other_hr"),
                deny=frozenset({ADMIN_INDEX, "403", "404"}),
                methods=GET_POST,
                follow=follow,
            )


for model in THIRD_PARTY:
    admin_model(model, scoped=False)
for model in SCOPED:
    admin_model(model, scoped=True)
case(
    "admin/auth/user/<id>/password/",
    "/admin/auth/user/{admin_auth_user}/password/",
    "worker_a1",
    deny=frozenset({ADMIN_LOGIN}),
    methods=GET_POST,
    allowed="root",
)
case(
    "admin/auth/user/<id>/password/",
    "/admin/auth/user/{admin_auth_user}/password/",
    ("hr", "admin"),
    deny=FORBIDDEN,
    methods=GET_POST,
)
case(
    "admin/points/ruleitem/([^/]+)/history/([^/]+)/$",
    "/admin/points/ruleitem/{admin_points_ruleitem}/history/{admin_points_ruleitem_version}/",
    "worker_a1",
    deny=frozenset({ADMIN_LOGIN}),
    allowed="admin",
    allow=OK_OR_REDIRECT,
)
case(
    "admin/points/ruleitem/([^/]+)/history/([^/]+)/$",
    "/admin/points/ruleitem/{admin_points_ruleitem}/history/{admin_points_ruleitem_version}/",
    "other_admin",
    deny=frozenset({ADMIN_INDEX, "403", "404"}),
)
for route, url, allowed in (
    ("admin/", "/admin/", "hr"),
    ("admin/password_change/", "/admin/password_change/", "hr"),
    ("admin/password_change/done/", "/admin/password_change/done/", "hr"),
    ("admin/autocomplete/", "/admin/autocomplete/", None),
    ("admin/jsi18n/", "/admin/jsi18n/", "hr"),
    ("admin/r/<path:content_type_id>/<path:object_id>/", "/admin/r/1/1/", None),
    (
        "admin/(?P<app_label>auth|authtoken|django_celery_beat|axes|points|viewflow)/$",
        "/admin/points/",
        "hr",
    ),
    ("admin/(?P<url>.*)$", "/admin/nowhere/", None),
):
    case(route, url, "worker_a1", deny=frozenset({ADMIN_LOGIN}), methods=GET_POST, allowed=allowed)

# -- the REST API ----------------------------------------------------------------------------

V1 = "api/v1/"


def api(path: str, url: str, denied: tuple[str, ...] | str, **kwargs: Any) -> None:
    """A router route (``members/(?P<pk>[^/.]+)/``); the API has no format-suffix twins."""
    route = f"{V1}{path.replace('{pk}', '(?P<pk>[^/.]+)')}"
    case(f"{route}$", f"/{V1}{url}", denied, **kwargs)


for plain in (
    "members/",
    "units/",
    "rules/",
    "declarations/",
    "notices/",
    "tasks/",
    "tasks/queue/",
    "summaries/",
    "publicity/",
    "appeals/",
    "ledger/",
    "rewards/",
    "redemptions/",
):
    AUTHENTICATED[f"{V1}{plain}$"] = f"/{V1}{plain}"
AUTHENTICATED[V1] = f"/{V1}"
AUTHENTICATED[f"{V1}accounts/me/"] = f"/{V1}accounts/me/"

OTHER = ("other_hr",)
api("members/{pk}/", "members/{worker_a1}/", OTHER, deny=NOT_FOUND, allowed="leader_a")
api(
    "members/{pk}/token/",
    "members/{worker_a1}/token/",
    ("worker_b", "leader_a1"),
    deny=FORBIDDEN,
    methods=("delete",),
    allowed="hr",
    allow=frozenset({"204"}),
    allow_method="delete",
)
api(
    "members/{pk}/token/",
    "members/{worker_a1}/token/",
    OTHER,
    deny=DENIED,
    methods=("delete",),
)
api("units/{pk}/", "units/{dept_b}/", OTHER, deny=NOT_FOUND, allowed="worker_a1")
api("rules/{pk}/", "rules/{idea}/", OTHER, deny=NOT_FOUND, allowed="worker_a1")
api(
    "declarations/{pk}/",
    "declarations/{d_review}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="leader_a1",
)
# withdrawing: those who may not see it, 404; the reviewer and HR, who may, 403
api(
    "declarations/{pk}/withdraw/",
    "declarations/{d_review}/withdraw/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    methods=("post",),
    check="declaration_submitted:d_review",
)
api(
    "declarations/{pk}/withdraw/",
    "declarations/{d_review}/withdraw/",
    ("leader_a1", "hr"),
    deny=FORBIDDEN,
    methods=("post",),
    check="declaration_submitted:d_review",
    allowed="worker_a1",
    allow_method="post",
)
api(
    "notices/{pk}/",
    "notices/{n_signing}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="leader_a",
)
api(
    "tasks/{pk}/",
    "tasks/{dreview_review}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="leader_a1",
)
REVIEW_BODIES = {
    "approve": {},
    "reject": {"reason": "x"},
    "return": {"reason": "x"},
    "adjust": {"items": [{"id": "{item}", "points": 20}], "reason": "x"},  # well-formed
}


def _with_item(body: dict[str, Any], key: str) -> dict[str, Any]:
    if "items" not in body:
        return body
    return {**body, "items": [{**item, "id": f"{{{key}}}"} for item in body["items"]]}


for verb, body in REVIEW_BODIES.items():
    # Another department's leader and another organisation's HR on worker A1's review: as
    # for no task (they may not learn that it exists); the declarant, who sees it: 403.
    for roles, deny in ((("leader_b", "other_hr"), NOT_FOUND), ("worker_a1", FORBIDDEN)):
        api(
            f"tasks/{{pk}}/{verb}/",
            f"tasks/{{dreview_review}}/{verb}/",
            roles,
            deny=deny,
            methods=("post",),
            data=_with_item(body, "d_review_item"),
            check="declaration_submitted:d_review",
        )
    # Worker B on the review of worker B's own declaration, though the task is theirs.
    api(
        f"tasks/{{pk}}/{verb}/",
        f"tasks/{{down_review}}/{verb}/",
        "worker_b",
        deny=FORBIDDEN,
        methods=("post",),
        data=_with_item(body, "d_own_item"),
        check="declaration_submitted:d_own",
    )
REVISED = {
    "id": "{d_returned_item}",
    "rule_item": "{idea}",
    "quantity": 1,
    "points": 15,
    "event_date": "2026-11-10",
    "place": "x",
    "description": "x",
}
api(
    "tasks/{pk}/revise/",
    "tasks/{dreturned_revise}/revise/",
    ("worker_b", "other_hr"),
    deny=NOT_FOUND,
    methods=("post",),
    data={"items": [REVISED]},
    check="declaration_returned:d_returned",
)
api(
    "tasks/{pk}/revise/",
    "tasks/{dreturned_revise}/revise/",
    "leader_a1",  # its reviewer sees it
    deny=FORBIDDEN,
    methods=("post",),
    data={"items": [REVISED]},
    check="declaration_returned:d_returned",
)
api(
    "tasks/{pk}/claim/",
    "tasks/{rnew_approve}/claim/",
    ("leader_a", "committee", "other_hr"),
    deny=NOT_FOUND,
    methods=("post",),
    check="redemptions_untouched",
)
api(
    "tasks/{pk}/claim/",
    "tasks/{rnew_approve}/claim/",
    "worker_a1",  # the redeemer sees his redemption
    deny=FORBIDDEN,
    methods=("post",),
    allowed="hr",
    allow_method="post",
    check="redemptions_untouched",
)

api(
    "summaries/{pk}/",
    "summaries/{s_open}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="worker_a1",
)
api(
    "summaries/{pk}/",
    "summaries/{s_draft}/",
    ("worker_b", "worker_a1"),
    deny=NOT_FOUND,
    allowed="hr",
    why="a draft is HR's and the committee's",
)
SITEMS = f"{V1}summaries/<int:summary_pk>/items/"
case(
    SITEMS,
    f"/{V1}summaries/{{s_open}}/items/",
    ("worker_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="hr",
)
for verb, body in (
    ("exclude", {"item": 0, "reason": "x"}),
    ("submit", {}),
    ("sign", {"decision": "approve"}),
):
    api(
        f"summaries/{{pk}}/{verb}/",
        f"summaries/{{s_draft}}/{verb}/",
        ("worker_a1", "leader_b", "other_hr"),
        deny=DENIED,
        methods=("post",),
        data=body,
        check="draft_untouched",
    )
api(
    "publicity/{pk}/",
    "publicity/{s_open}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="worker_a1",
)
api(
    "appeals/{pk}/",
    "appeals/{a_ruling}/",
    ("worker_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="leader_a1",
)
api(
    "appeals/{pk}/reexamine/",
    "appeals/{a_waiting}/reexamine/",
    ("worker_b", "hr2", "committee", "worker_a1", "other_hr"),
    deny=DENIED,
    methods=("post",),
    data={"findings": "x"},
    check="appeals_untouched",
)
api(
    "appeals/{pk}/rule/",
    "appeals/{a_ruling}/rule/",
    ("worker_b", "hr", "leader_a1", "other_committee"),
    deny=DENIED,
    methods=("post",),
    data={"ruling": "uphold", "reason": "x"},
    check="appeals_untouched",
)
api(
    "ledger/{pk}/",
    "ledger/{entry_a1}/",
    ("worker_b", "leader_b", "other_hr"),
    deny=NOT_FOUND,
    allowed="hr",
)
api("rewards/{pk}/", "rewards/{reward}/", ("other_worker_a1",), deny=NOT_FOUND, allowed="worker_a1")
api(
    "redemptions/{pk}/",
    "redemptions/{r_new}/",
    ("worker_b", "leader_a", "other_hr"),
    deny=NOT_FOUND,
    allowed="worker_a1",
)
for verb, key in (
    ("approve", "r_new"),
    ("reject", "r_new"),
    ("claim", "r_new"),
    ("unclaim", "r_new"),
    ("cancel", "r_new"),
    ("fulfil", "r_approved"),
):
    api(
        f"redemptions/{{pk}}/{verb}/",
        f"redemptions/{{{key}}}/{verb}/",
        ("worker_b", "leader_a", "other_hr"),
        deny=DENIED,
        methods=("post",),
        data={"reason": "x"},
        check="redemptions_untouched",
    )
api(
    "attendance-events/",
    "attendance-events/",
    ("worker_a1", "leader_a", "committee"),
    deny=FORBIDDEN,
    methods=GET_POST,
    allowed="hr",
)
api(
    "attendance-events/{pk}/",
    "attendance-events/{import}/",
    ("worker_a1", "leader_a"),
    deny=FORBIDDEN,
    allowed="hr",
)
api("attendance-events/{pk}/", "attendance-events/{import}/", OTHER, deny=NOT_FOUND)
case(
    f"{V1}statements/",
    f"/{V1}statements/?member={{worker_a1}}",
    ("worker_b", "leader_a", "other_hr"),
    deny=NOT_FOUND,
    allowed="hr",
)
case(
    f"{V1}rankings/",
    f"/{V1}rankings/",
    ("worker_a1", "leader_a"),
    deny=FORBIDDEN,
    allowed="committee",
)
case(
    f"{V1}rankings/",
    f"/{V1}rankings/?unit={{other_unit}}",
    ("hr", "committee"),
    deny=frozenset({"200", "400", "404"}),
    check="body_without:other-",
    why="a unit of another organisation: ignored, never its members",
)
# Creating through the list routes: only those who may.
for path, url, denied, body in (
    ("declarations/", "declarations/", "root", {"items": []}),
    ("notices/", "notices/", "worker_a1", {}),
    ("summaries/", "summaries/", ("worker_a1", "leader_a", "committee"), {"scope": "{dept_b}"}),
    (
        "appeals/",
        "appeals/",
        ("worker_b", "other_hr"),
        {"item": "{s_open_item}", "reason": "x"},
    ),
    ("redemptions/", "redemptions/", ("other_worker_a1", "root"), {"reward": "{reward}"}),
):
    api(
        path,
        url,
        denied,
        deny=frozenset({"400", "403", "404"}),
        methods=("post",),
        data=body,
        check="nothing_created",
    )


# --- checks: a refused request changed nothing ---------------------------------------------

CREATED = ("Declaration", "AwardNotice", "Summary", "Appeal", "Redemption", "ImportJob")


def _status(model: str, key: str) -> Callable[[World, Any], bool]:
    def check(world: World, _response: Any) -> bool:
        from flows import models

        return getattr(models, model).objects.get(pk=world.ids[key]).status == world.snapshot[key]

    return check


def _nothing_created(world: World, _response: Any) -> bool:
    from flows import models

    return all(
        getattr(models, name).objects.count() == world.snapshot[f"count:{name}"] for name in CREATED
    )


def _draft_untouched(world: World, _response: Any) -> bool:
    from flows.models import Summary

    summary = Summary.objects.get(pk=world.ids["s_draft"])
    return summary.status == world.snapshot["s_draft"] and not summary.signoffs.exists()


def _all(model: str, attribute: str) -> Callable[[World, Any], bool]:
    def check(world: World, _response: Any) -> bool:
        from flows import models

        rows = getattr(models, model).objects.values_list("pk", attribute)
        return dict(rows) == world.snapshot[f"all:{model}"]

    return check


def _tasks_untouched(world: World, _response: Any) -> bool:
    return dict(Task.objects.values_list("pk", "owner_id")) == world.snapshot["tasks"]


def _body_without_other_org(world: World, response: Any) -> bool:
    return "other-" not in response.content.decode()


CHECKS: dict[str, Callable[[World, Any], bool]] = {
    "declaration_submitted:d_review": _status("Declaration", "d_review"),
    "declaration_submitted:d_own": _status("Declaration", "d_own"),
    "declaration_returned:d_returned": _status("Declaration", "d_returned"),
    "import_ready": _status("ImportJob", "import"),
    "no_new_summary": _nothing_created,
    "no_new_appeal": _nothing_created,
    "nothing_created": _nothing_created,
    "draft_untouched": _draft_untouched,
    "redemptions_untouched": _all("Redemption", "status"),
    "appeals_untouched": _all("Appeal", "status"),
    "bulk_untouched": _tasks_untouched,
    "body_without:other-": _body_without_other_org,
}


def _snapshot(world: World) -> None:
    from flows import models

    for key, model in (
        ("d_review", "Declaration"),
        ("d_own", "Declaration"),
        ("d_returned", "Declaration"),
        ("import", "ImportJob"),
        ("s_draft", "Summary"),
    ):
        world.snapshot[key] = getattr(models, model).objects.get(pk=world.ids[key]).status
    for name in CREATED:
        world.snapshot[f"count:{name}"] = getattr(models, name).objects.count()
    for name in ("Redemption", "Appeal"):
        world.snapshot[f"all:{name}"] = dict(
            getattr(models, name).objects.values_list("pk", "status")
        )
    world.snapshot["tasks"] = dict(Task.objects.values_list("pk", "owner_id"))


# --- the world, once per module ------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[World]:
    """Built once, in a transaction rolled back at the end of the module; each test runs in
    a savepoint of it (pytest-django's ``db``), so a request that writes is undone."""
    import time_machine

    media = tmp_path_factory.mktemp("sweep-media")
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), tick=True):
                built = build_world()
            _snapshot(built)
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _media_root() -> None:
    """The world's files stay where the module put them (overrides the per-test one)."""


def _url(world: World, template: str) -> str:
    return template.format(**world.ids)


def _client(world: World, role: str | None, path: str) -> Any:
    if path.startswith("/api/"):
        client: Any = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        if role is not None:
            token, _created = Token.objects.get_or_create(user=world.user(role))
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    else:
        client = Client()
        if role is not None:
            client.force_login(world.user(role))
    client.raise_request_exception = False
    return client


def _filled(world: World, value: Any) -> Any:
    """The request body with ``{name}`` strings replaced by ids (as numbers where whole)."""
    if isinstance(value, dict):
        return {k: _filled(world, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(world, v) for v in value]
    if isinstance(value, str) and "{" in value:
        text = _url(world, value)
        return int(text) if re.fullmatch(r"-?[0-9]+", text) else text
    return value


def _request(
    world: World,
    role: str | None,
    method: str,
    url: str,
    data: dict[str, Any],
    follow: bool = False,
) -> Any:
    client = _client(world, role, url)
    body = _filled(world, data)
    if method == "get":
        response = client.get(url)
    elif url.startswith("/api/"):
        response = getattr(client, method)(url, body, format="json")
    else:
        response = getattr(client, method)(url, body)
    if follow and outcome(response) == REDIRECT:
        response = client.get(response["Location"])
    _csp_on_html(response)
    return response


def _csp_on_html(response: Any) -> None:
    """Every HTML response, a refusal or an error page included, carries the Content
    Security Policy."""
    if response.get("Content-Type", "").startswith("text/html"):
        policy = response.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, (
            response.wsgi_request.path,
            response.status_code,
            policy,
        )


# --- the tests -----------------------------------------------------------------------------


class _AnyId(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "1"


def _route_of(url: str) -> str:
    return resolve(urlsplit(url.format_map(_AnyId())).path).route


def test_every_route_has_a_denial_test() -> None:
    routes = list(walk())
    assert len(routes) == len(set(routes)), "a route is listed twice"
    tables = {
        "CASES": {c.route for c in CASES},
        "AUTHENTICATED": set(AUTHENTICATED),
        "PUBLIC": set(PUBLIC),
    }
    covered = set().union(*tables.values())
    missing = sorted(set(routes) - covered)
    assert not missing, f"routes without a denial test (add them to a table): {missing}"
    stale = sorted(covered - set(routes))
    assert not stale, f"table entries that match no route: {stale}"
    both = tables["PUBLIC"] & (tables["CASES"] | tables["AUTHENTICATED"])
    assert not both, f"public and protected at once: {sorted(both)}"
    # Each URL reaches the route it claims to test.
    urls = [(c.route, c.url) for c in CASES]
    urls += [(route, url) for route, url in AUTHENTICATED.items()]
    urls += [(route, entry[0]) for route, entry in PUBLIC.items()]
    wrong = [(route, url, _route_of(url)) for route, url in urls if _route_of(url) != route]
    assert not wrong, wrong


def _anonymous_url(route: str) -> str:
    if route in PUBLIC:
        return PUBLIC[route][0]
    if route in AUTHENTICATED:
        return AUTHENTICATED[route]
    return next(c.url for c in CASES if c.route == route)


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


@pytest.mark.parametrize("route", sorted(set(walk())))
def test_anonymous_users_are_sent_to_log_in(world: World, db: Any, route: str) -> None:
    url = _url(world, _anonymous_url(route))
    for method in ("get", "post"):
        response = _request(world, None, method, url, {})
        got = outcome(response)
        assert response.status_code < 500, (method, url, response.status_code)
        if route in PUBLIC:
            expected = PUBLIC[route][1 if method == "get" else 2]
        elif url.startswith("/api/"):
            expected = frozenset({"401"})
        elif url.startswith("/admin/"):
            expected = frozenset({ADMIN_LOGIN, LOGIN})
        else:
            expected = frozenset({LOGIN})
        assert got in expected, (method, url, got)
        if url.startswith("/api/") and got == "401":
            assert response.json()["errors"][0]["code"] == "not_authenticated"


@pytest.mark.parametrize("entry", _params(CASES))
def test_the_role_that_must_not_is_refused(world: World, db: Any, entry: Case) -> None:
    url = _url(world, entry.url)
    for role in entry.denied:
        for method in entry.methods:
            response = _request(world, role, method, url, entry.data, entry.follow)
            assert response.status_code < 500, (role, method, url, response.status_code)
            got = outcome(response)
            assert got in entry.deny, (role, method, url, got, sorted(entry.deny), entry.why)
            if entry.check:
                assert CHECKS[entry.check](world, response), (role, method, url, entry.check)
    if entry.allowed:
        response = _request(world, entry.allowed, entry.allow_method, url, entry.data, entry.follow)
        got = outcome(response)
        assert got in entry.allow, (entry.allowed, entry.allow_method, url, got)


@pytest.mark.parametrize("route", sorted(AUTHENTICATED))
def test_pages_for_everyone_logged_in_open(world: World, db: Any, route: str) -> None:
    url = _url(world, AUTHENTICATED[route])
    response = _request(world, "worker_a1", "get", url, {})
    assert outcome(response) in {"200", REDIRECT, HOME}, (url, response.status_code)


# --- ids that are no ids -------------------------------------------------------------------

#: Typed into a URL or a body where an id goes: "²" passes ``str.isdigit`` but not ``int``;
#: 10**30 passes ``int`` (and a path's ``<int:…>``) but no database column.
ODD_IDS = ("²", str(10**30))


def _odd_world(world: World, odd: str) -> Any:
    """``world`` whose every id is ``odd`` (for ``_filled``)."""
    return type("OddWorld", (), {"ids": dict.fromkeys(world.ids, odd)})()


def _entries_with_ids() -> list[Any]:
    """Each case, asked by the role that may use it (else by the first refused one, whose
    request goes as far as the check), and the pages for everyone that take an id."""
    entries = [
        pytest.param(
            c.url,
            c.allowed or c.denied[0],
            (c.allow_method,) if c.allowed else c.methods,
            c.data,
            c.follow,
            id=c.id,
        )
        for c in CASES
        if "{" in c.url or "{" in repr(c.data)
    ]
    entries += [
        pytest.param(url, "worker_a1", ("get",), {}, False, id=url)
        for url in AUTHENTICATED.values()
        if "{" in url
    ]
    return entries


@pytest.mark.parametrize(("template", "role", "methods", "data", "follow"), _entries_with_ids())
def test_odd_ids_are_answered_not_failed(
    world: World,
    db: Any,
    template: str,
    role: str,
    methods: tuple[str, ...],
    data: Any,
    follow: bool,
) -> None:
    """Each URL that takes an id, asked with an id that no row can have in its path, its
    query and its body, answers (a refusal, a message, nothing found): never a 5xx. On
    SQLite only: its driver refuses an integer over 64 bits, where PostgreSQL compares it
    and finds nothing (all of these answered there too when this test was written; the
    query-parameter sweep below, with its NUL, runs on both)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("an id over 64 bits fails on SQLite's driver only")
    for odd in ODD_IDS:
        url = _url(_odd_world(world, odd), template)
        body = _filled(_odd_world(world, odd), data)
        for how in sorted({"get", *methods}):
            with transaction.atomic():
                response = _request(world, role, how, url, body if how != "get" else {}, follow)
                transaction.set_rollback(True)
            assert response.status_code < 500, (role, how, url, body, response.status_code)


#: The query parameters the pages and the API read (their filters, pages and switches), each
#: given values no form of them takes: a NUL (PostgreSQL refuses it in any text), ids that
#: are none (``ODD_IDS``), an impossible date.
QUERY_NAMES = (
    "q action actor member employee_no unit scope reward rule summary parent kind status "
    "category direction flag flagged period flow on since until date_from date_to month "
    "page page_size format paid show for all group item awaiting_my_vote"
).split()
ODD_VALUES = ("\x00", *ODD_IDS, "2026-13-45")


def _get_entries() -> list[Any]:
    entries = [
        pytest.param(c.url, c.allowed, c.follow, id=c.id)
        for c in CASES
        if c.allowed and c.allow_method == "get"
    ]
    entries += [
        pytest.param(url, "worker_a1", False, id=url)
        for url in AUTHENTICATED.values()
        if "?" not in url
    ]
    return entries


@pytest.mark.parametrize(("template", "role", "follow"), _get_entries())
def test_odd_query_parameters_are_answered_not_failed(
    world: World, db: Any, template: str, role: str, follow: bool
) -> None:
    """Each page or list read by the role that may, with every parameter it could read set
    to a value no form of it takes, answers: never a 5xx."""
    url = _url(world, template)
    for odd in ODD_VALUES:
        query = urlencode(dict.fromkeys(QUERY_NAMES, odd))
        odd_url = f"{url}{'&' if '?' in url else '?'}{query}"
        with transaction.atomic():
            response = _request(world, role, "get", odd_url, {}, follow)
            transaction.set_rollback(True)
        assert response.status_code < 500, (role, url, repr(odd[:10]), response.status_code)
