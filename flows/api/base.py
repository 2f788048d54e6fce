"""What every API view shares: pages, running viewflow steps as the web task pages do,
and ``Idempotency-Key`` handling for the write endpoints that create things."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.api.errors import Conflict
from flows.models import IdempotencyKey
from flows.once import request_fingerprint
from flows.tasklock import carry_seen, seen_by, task_cancelled_message

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = 100


class Pages(PageNumberPagination):
    """``?page=N&page_size=M`` (at most 200); ``count``, ``next``, ``previous``, ``results``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


# --- running flow steps ------------------------------------------------------------------

#: A task someone may still act on: in a queue (NEW) or claimed (ASSIGNED).
OPEN_TASK = (STATUS.NEW, STATUS.ASSIGNED)


def open_tasks_prefetch() -> Prefetch[Any]:
    """For a queryset of records with a ``process``: their open tasks, oldest first, on
    ``process.open_tasks`` (one query for the page, read by ``open_tasks``)."""
    return Prefetch(
        "process__task_set",
        queryset=Task.objects.filter(status__in=OPEN_TASK).order_by("pk"),
        to_attr="open_tasks",
    )


def open_tasks(record: Any) -> list[Task]:
    """The open tasks of a record's process, oldest first (prefetched, else queried)."""
    if record.process_id is None:
        return []
    prefetched = getattr(record.process, "open_tasks", None)
    if prefetched is not None:
        return list(prefetched)
    return list(
        Task.objects.filter(process_id=record.process_id, status__in=OPEN_TASK).order_by("pk")
    )


def flow_start(flow_class: Any, *, user: Any, act: Callable[[Any], Any]) -> Any:
    """Start a process at ``flow_class.start`` as ``user``: ``act(process)`` creates the
    record (through its service) and links it to the saved process; then the start node
    completes and the next task is created, all in one transaction, as the web start page.
    The caller has checked that the user may start it (the node's ``.Available`` test)."""
    with transaction.atomic():
        node = flow_class.start
        activation = node.activation_class.create(node, None, None)
        activation.start(SimpleNamespace(user=user))
        activation.process.save()
        result = act(activation.process)
        activation.execute()
        return result


@contextmanager
def task_activation(*, task_id: int, user: Any, flow_task: Any) -> Iterator[Any]:
    """The activation of a task the user may execute now, under the flow's lock and a row
    lock on the task (so two concurrent calls cannot both act on it). A task that is not
    the expected step, or of a process the user may not see, is 404; one the user may not
    execute is 403; one already done is 409."""
    flow_class = flow_task.flow_class
    task = task_seen_by(user, task_id)
    if task.flow_task != flow_task:
        raise Http404
    with flow_class.lock(task.process_id), transaction.atomic():
        task = carry_seen(
            task, Task.objects.select_for_update().select_related("process").get(pk=task_id)
        )
        if task.status == STATUS.CANCELED:
            raise Conflict(task_cancelled_message(), code="task_cancelled")
        if task.status == STATUS.DONE:
            raise Conflict(_("This task is already done."), code="task_done")
        if task.status == STATUS.NEW and flow_task.can_assign(user, task):
            raise Conflict(_("Claim this task before you act on it."), code="task_not_claimed")
        if not flow_task.can_execute(user, task):
            raise PermissionDenied(_("This task is not yours."))
        activation = flow_task.activation_class(task)
        activation.start(SimpleNamespace(user=user))
        yield activation


def task_claim(*, task_id: int, user: Any) -> Task:
    """Assign an unassigned (queue) task to the user, as the web "assign" button."""
    return _task_assignment(task_id=task_id, user=user, claim=True)


def task_unclaim(*, task_id: int, user: Any) -> Task:
    """Put a claimed task back in the queue, as the web "unassign" button."""
    return _task_assignment(task_id=task_id, user=user, claim=False)


def task_seen_by(user: Any, task_id: int) -> Task:
    """The task, if the user may see its process; else 404, whether it exists or not, and
    before its status is read: another organisation's task ids are not probed by the
    answers (403 "not yours" or 409 "done" would say that the task exists, and how far)."""
    task = Task.objects.filter(pk=task_id).select_related("process").first()
    if task is None or not seen_by(user, task):
        raise Http404
    return task


def _task_assignment(*, task_id: int, user: Any, claim: bool) -> Task:
    task = task_seen_by(user, task_id)
    flow_task = task.flow_task
    with flow_task.flow_class.lock(task.process_id), transaction.atomic():
        task = carry_seen(task, Task.objects.select_for_update().get(pk=task_id))
        activation = flow_task.activation_class(task)
        if claim:
            if task.status != STATUS.NEW:
                raise Conflict(
                    _("This task is already claimed or done."), code="task_not_available"
                )
            if not flow_task.can_assign(user, task):
                raise PermissionDenied(_("You may not claim this task."))
            activation.assign(user)
        else:
            if task.status != STATUS.ASSIGNED:
                raise Conflict(_("This task is not claimed."), code="task_not_available")
            if not flow_task.can_unassign(user, task):
                raise PermissionDenied(_("You may not give this task back."))
            activation.unassign()
        task.refresh_from_db()
        return task


# --- idempotency ---------------------------------------------------------------------------


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    """For a view method that creates something. With an ``Idempotency-Key`` header, the
    first successful response is kept with a fingerprint of the request, in the same
    transaction as what it created; the same key and body again returns it (header
    ``Idempotent-Replayed: true``), the same key with another body is 409. Keys are per user."""

    @wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return method(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
            raise exceptions.ValidationError(
                {
                    IDEMPOTENCY_HEADER: [
                        exceptions.ErrorDetail(
                            _("An Idempotency-Key is 1 to %(max)s printable characters.")
                            % {"max": IDEMPOTENCY_KEY_MAX},
                            code="invalid_idempotency_key",
                        )
                    ]
                }
            )
        fingerprint = request_fingerprint(request)
        try:
            with transaction.atomic():
                kept = _replay(request.user, key, fingerprint)
                if kept is not None:
                    return kept
                response = method(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotencyKey.objects.create(
                        user=request.user,  # type: ignore[misc]  # authenticated here
                        key=key,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=response.data,
                    )
                return response
        except IntegrityError:
            # A concurrent request with the same key won; what this one created is rolled back.
            kept = _replay(request.user, key, fingerprint)
            if kept is None:
                raise
            return kept

    return wrapper


def _replay(user: Any, key: str, fingerprint: str) -> Response | None:
    kept = IdempotencyKey.objects.filter(user=user, key=key).first()
    if kept is None:
        return None
    if kept.fingerprint != fingerprint:
        raise Conflict(
            _("This Idempotency-Key was used with a different request."),
            code="idempotency_conflict",
        )
    return Response(kept.body, status=kept.status_code, headers={"Idempotent-Replayed": "true"})
