"""Approving several declarations at once (批量审批): a reviewer with a day's worth of small
claims ticks those to approve as declared. Each is approved exactly as its own review page
approves it: under the task's lock, by the task's owner, through ``declaration_review``
(so a declaration above the reviewer's tier escalates, and nobody approves their own), in a
transaction of its own; one that cannot be approved is named and the others go through."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View
from rest_framework.exceptions import APIException
from viewflow.workflow.status import STATUS

from flows.api.base import task_activation
from flows.flows import DeclarationFlow
from flows.inbox import SUBJECTS
from flows.models import DeclarationStatus
from flows.services import ReviewAction, declaration_review
from points.ids import id_from

MOST = 50  # declarations one page offers, and one request approves


def review_tasks(user: Any) -> Any:
    """The user's review tasks, oldest first."""
    return DeclarationFlow.task_class.objects.filter(
        flow_task=DeclarationFlow.review, owner=user, status=STATUS.ASSIGNED
    ).order_by("created", "pk")


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, APIException):
        return str(error.detail)
    if isinstance(error, Http404):
        return _("This is not a declaration waiting for your review.")
    return str(error) or _("You may not review this declaration.")


class BulkApproveView(View):
    template_name = "flows/bulk_approve.html"

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        tasks = list(review_tasks(request.user)[:MOST])
        subjects = SUBJECTS[DeclarationFlow]([task.process_id for task in tasks])
        rows = [
            {
                "task": task,
                "subject": subjects.get(task.process_id, task.title),
                "url": task.flow_task.reverse("index", args=[task.process_id, task.pk]),
            }
            for task in tasks
        ]
        return render(
            request,
            self.template_name,
            {"rows": rows, "all": request.GET.get("all") == "1", "most": MOST},
        )

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        ids = (id_from(v) for v in request.POST.getlist("task"))
        chosen = [pk for pk in ids if pk is not None][:MOST]
        if not chosen:
            messages.error(request, _("Choose at least one declaration to approve."))
            return HttpResponseRedirect(request.path)
        approved = escalated = 0
        refused: list[str] = []
        # Ids not of the user's own review tasks are all refused alike: the answer tells
        # nothing of other people's tasks.
        own = set(
            DeclarationFlow.task_class.objects.filter(
                pk__in=chosen, owner=request.user, flow_task=DeclarationFlow.review
            ).values_list("pk", flat=True)
        )
        for task_id in dict.fromkeys(chosen):
            try:
                if task_id not in own:
                    raise Http404
                with task_activation(
                    task_id=task_id, user=request.user, flow_task=DeclarationFlow.review
                ) as activation:
                    declaration = declaration_review(
                        declaration=activation.process.declaration,
                        user=request.user,
                        action=ReviewAction.APPROVE,
                        process=activation.process,
                    )
                    activation.execute()
            except (Http404, PermissionDenied, ValidationError, APIException) as error:
                refused.append(f"#{task_id}: {_reason(error)}")
                continue
            if declaration.status == DeclarationStatus.ESCALATED:
                escalated += 1
            else:
                approved += 1
        if approved or escalated:
            messages.success(
                request,
                _(
                    "Approved %(approved)s; %(escalated)s above your authority went to the "
                    "next level up."
                )
                % {"approved": approved, "escalated": escalated},
            )
        if refused:
            messages.error(request, _("Not approved: %(which)s") % {"which": "; ".join(refused)})
        return HttpResponseRedirect(request.path)
