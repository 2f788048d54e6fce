"""One lock order for acting on a task: the task's row first, then the record's.

Every way of acting on a human task takes the task's row lock before its service locks
the record (declaration, notice, summary, appeal, redemption): the REST API in
``flows.api.base.task_activation``; the pages of ``LockedView`` nodes through
``task_row_locked``; services that cancel a process's tasks (a member withdrawing a
redemption or a declaration) through ``tasks_then_record_lock``; and the review deadline
job. viewflow's own page
locks nothing and writes the task row only at the end, so a page and an API call acting
on one task at once took the two locks in opposite orders and deadlocked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import path
from django.utils.translation import gettext as _
from viewflow import viewprop
from viewflow.workflow import flow
from viewflow.workflow.flow.utils import wrap_view
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

T = TypeVar("T")

#: The states a task can be acted on in.
ACTIONABLE = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def task_rows_lock(*, process_id: int) -> list[int]:
    """Lock the rows of a process's open tasks, in key order, until the transaction ends:
    for a service that acts on the record and then cancels or completes its tasks. Returns
    their ids."""
    return list(_open_task_ids(process_id).select_for_update())


def _open_task_ids(process_id: int) -> Any:
    """The ids of a process's open tasks, in key order (the order they are locked in)."""
    return (
        Task.objects.filter(process_id=process_id, status__in=ACTIONABLE)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


#: How often ``tasks_then_record_lock`` tries before it gives up (each retry means another
#: request changed the process's tasks in between: a second is rarer still).
LOCK_ATTEMPTS = 5


def tasks_then_record_lock(*, process_id: int | None, lock_record: Callable[[], T]) -> T:
    """Lock a process's open task rows, then its record (``lock_record()``), in that order,
    until the transaction ends; for a service that cancels the process (a withdrawal).

    While this waits for the task rows, the request holding them may finish its task and
    create the next one (a review that escalates, a revision sent back): that new row was
    not locked here, and locking it after the record would take the two locks in the
    other order (a deadlock with its new owner acting at once). So once the record is
    locked (no task can be created without it), the open tasks are read again; if they
    changed, both locks are given back (the savepoint) and taken again."""
    if process_id is None:
        return lock_record()
    for _attempt in range(LOCK_ATTEMPTS):
        with transaction.atomic():  # a savepoint: rolled back, it releases its row locks
            locked = task_rows_lock(process_id=process_id)
            record = lock_record()
            if list(_open_task_ids(process_id)) == locked:
                return record
            transaction.set_rollback(True)
    raise ValidationError(_("This changed while you were acting on it; try again."))


def task_row_locked(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wrap a flow task's page: a POST locks the task's row before the page's service
    runs (viewflow calls the page inside its transaction), and is refused unless the row,
    as committed now, is still assigned to this user: another request may have finished,
    unclaimed or reassigned it since viewflow read it."""

    @wraps(view)
    def locked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            task_row_lock(task=request.activation.task, user=request.user)  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return locked


def task_row_lock(*, task: Any, user: Any) -> None:
    """Lock the task's row until the transaction ends; refused unless it is, as committed
    now, still assigned to ``user`` (see ``task_row_locked``)."""
    now = (
        Task.objects.select_for_update()
        .filter(pk=task.pk)
        .values_list("status", "owner_id")
        .first()
    )
    if now is None or now[0] in (STATUS.DONE, STATUS.CANCELED):
        raise PermissionDenied(_("This task is already done."))
    if now != (STATUS.ASSIGNED, user.pk):
        raise PermissionDenied(_("This task is not yours."))


class _ObjectPermissions:
    """The user's django-guardian object permissions (their own and their groups'), as
    viewflow's ``user_queue`` matches a task's queue permission: "app.codename_objectpk".
    Read in one query, when a queue is first built in the request."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self._held: frozenset[str] | None = None

    def _read(self) -> frozenset[str]:
        if self._held is None:
            from guardian.models import GroupObjectPermission, UserObjectPermission

            fields = ("content_type__app_label", "permission__codename", "object_pk")
            own = UserObjectPermission.objects.filter(user_id=self.user_id).values_list(*fields)
            groups = GroupObjectPermission.objects.filter(group__user=self.user_id)
            rows = own.union(groups.values_list(*fields), all=True)
            self._held = frozenset(f"{app}.{codename}_{pk}" for app, codename, pk in rows)
        return self._held

    def __iter__(self) -> Any:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, item: object) -> bool:
        return item in self._read()


def prime_queue_permissions(user: Any) -> None:
    """viewflow's ``user_queue`` (the queue pages, every flow menu's queue count, home's
    counts, the API's queue) reads the user's object permissions with two more queries for
    each one held, and keeps what it read on the user (``_viewflow_per_object_perm_cache``).
    Given the same set first, read in one query, it reads nothing."""
    if getattr(user, "is_authenticated", False) and not hasattr(
        user, "_viewflow_per_object_perm_cache"
    ):
        user._viewflow_per_object_perm_cache = _ObjectPermissions(user.pk)


class QueuePermissionsMiddleware:
    """``prime_queue_permissions`` for the signed-in user of every page (after
    ``AuthenticationMiddleware``; the API primes its own user, authenticated in the view)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        user = getattr(request, "user", None)
        if user is not None:
            prime_queue_permissions(user)
        return self.get_response(request)


def claimable(tasks: Any, user: Any) -> Any:
    """Of viewflow's queue (``user_queue``), the tasks ``user`` may claim: not those with no
    queue permission, which viewflow offers to everybody (``LockedView.can_assign``), nor
    the steps of a ``PartiesRefusedTask`` whose record concerns the user (an appeal about
    them, their own redemption), which they may not take."""
    from flows.flows import INBOXES, PartiesRefusedTask  # the flows are built of LockedView

    if not getattr(user, "is_superuser", False):
        tasks = tasks.exclude(owner_permission__isnull=True).exclude(owner_permission="")
    for flow_class, _lists in INBOXES:
        for node in flow_class.instance.nodes():
            if isinstance(node, PartiesRefusedTask):
                tasks = tasks.exclude(flow_task=node, process__in=node.concerning(user))
    return tasks


def seen_by(user: Any, task: Any) -> bool:
    """Whether ``user`` may see the task's process, and so the task and its pages (one who
    lost the role that let them see it keeps no window on it). Asked once per user of the
    task object (a page asks before and in its checks; ``carry_seen`` hands the answer to
    the same task read again under its lock)."""
    seen: dict[Any, bool] = vars(task).setdefault("_seen_by", {})
    if user.pk not in seen:
        flow_class = task.flow_task.flow_class
        seen[user.pk] = bool(flow_class.instance.has_view_permission(user, task.process))
    return seen[user.pk]


def carry_seen(read: Any, again: Any) -> Any:
    """``again``, the task ``read`` read again in the same request (under its lock), with
    what ``seen_by`` found of ``read``."""
    vars(again)["_seen_by"] = vars(read).get("_seen_by", {})
    return again


def not_found_unseen(request: HttpRequest) -> Http404:
    """The "not found" for a page about a process the user may not see (403 would say that
    it exists), written to the audit log as the refusal it is."""
    from points.services.audit import audit_denial

    audit_denial(request=request, reason=_("answered “not found”: not visible to this user"))
    return Http404()


def task_cancelled_message() -> str:
    """What a task page or API call says of a task cancelled since it was listed: its
    record was withdrawn by its member, cancelled by HR (a redemption's refund) or its
    process cancelled by a manager."""
    return _(
        "This task was cancelled (its record was withdrawn or cancelled): nothing is left to do."
    )


class LockedView(flow.View):  # type: ignore[misc]
    """viewflow's View node whose page takes the task's row lock first
    (``task_row_locked``). Every human task of our flows is one of these (a test checks)."""

    def __init__(self, view: Callable[..., HttpResponseBase], **kwargs: Any) -> None:
        super().__init__(task_row_locked(view), **kwargs)

    def can_assign(self, user: Any, task: Any) -> bool:
        """viewflow lets anybody, in any organisation, claim a task that has no owner and
        no queue permission; ours have one or the other, and a task with neither (an
        assignment that found nobody) is for an administrator to hand out."""
        if not task.owner_permission and not getattr(user, "is_superuser", False):
            return False
        return bool(super().can_assign(user, task)) and seen_by(user, task)

    def can_unassign(self, user: Any, task: Any) -> bool:
        """A task assigned to a person, with no queue permission, is not given back: given
        back, it would be nobody's and, to viewflow, everybody's (any user's queue)."""
        if not task.owner_permission or task.status != STATUS.ASSIGNED:
            return False  # (viewflow asked only "is it theirs?", even of a task long done)
        return bool(super().can_unassign(user, task)) and seen_by(user, task)

    def can_execute(self, user: Any, task: Any) -> bool:
        """viewflow asks only "is it theirs?": one who has since lost what let them see the
        record (an HR officer who lost the role, with a re-examination claimed) may not act
        on it, and finds it "not found" (``view_path``)."""
        return bool(super().can_execute(user, task)) and seen_by(user, task)

    @property
    def view_path(self) -> Any:
        """viewflow's task page, where it refuses: a task of a process the user may not
        see is 404 (viewflow answered 403, which says it exists); a task cancelled since
        it was listed (its record withdrawn or cancelled) sends the user to its process page with a
        message saying so, where viewflow answered 403 with its internal error ("no
        transition from CANCELED")."""
        page = wrap_view(self, self.view)

        @wraps(page)
        def execute(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                return page(request, *args, **kwargs)
            except PermissionDenied:
                cancelled = self._refused(request, kwargs)
                if cancelled is None:
                    raise
                return cancelled

        return path(f"<int:process_pk>/{self.name}/<int:task_pk>/execute/", execute, name="execute")

    def _refused(self, request: HttpRequest, kwargs: dict[str, Any]) -> Any:
        """What a refused task page answers instead of 403, if anything."""
        task = (
            Task.objects.filter(
                pk=kwargs.get("task_pk"), process_id=kwargs.get("process_pk"), flow_task=self
            )
            .select_related("process")
            .first()
        )
        if task is None or not seen_by(request.user, task):
            raise not_found_unseen(request)
        if task.status != STATUS.CANCELED:
            return None
        messages.info(request, task_cancelled_message())
        flow_page = self.flow_class.instance.reverse("process_detail", args=[task.process_id])
        return HttpResponseRedirect(flow_page)

    @viewprop
    def assign_view(self) -> Any:
        """The claim page, whose message says what was claimed (viewflow's: "#161")."""
        from flows.inbox import ClaimTaskView  # flows.inbox reads the flows, which read this

        return ClaimTaskView.as_view()

    @viewprop
    def unassign_view(self) -> Any:
        from flows.inbox import PutBackTaskView

        return PutBackTaskView.as_view()
