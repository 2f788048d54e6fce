"""One lock order for acting on a task: the task's row first, then the record's.

Every way of acting on a human task takes the task's row lock before its service locks
the record (declaration, notice, summary, appeal, redemption): the REST API in
``flows.api.base.task_activation``, the pages through ``task_row_locked``. viewflow's own
page locks nothing and writes the task row only at the end, so a page and an API call
acting on one task at once would take the two locks in opposite orders and deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

#: The states a task can be acted on in.
ACTIONABLE = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)


def task_row_lock(task_id: int) -> str | None:
    """Lock the task's row until the transaction ends; its status as committed now (None:
    no such task)."""
    status: str | None = (
        Task.objects.select_for_update().filter(pk=task_id).values_list("status", flat=True).first()
    )
    return status


def task_row_locked(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wrap a flow task's page: a POST locks the task's row before the page's service
    runs (viewflow calls the page inside its transaction), and is refused when another
    request finished the task meanwhile."""

    @wraps(view)
    def locked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST":
            task = request.activation.task  # type: ignore[attr-defined]
            if task_row_lock(task.pk) not in ACTIONABLE:
                raise PermissionDenied(_("This task is already done."))
        return view(request, *args, **kwargs)

    return locked
