"""Pages of the bulk import (HR only): upload, preview with each row's verdict, confirm,
and a progress bar fed by a small JSON status endpoint. Services in ``flows.imports``
decide; these pages only show and forward."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_GET, require_POST
from viewflow.urls import Viewset
from viewflow.urls.sites import AppMenuMixin

from flows.imports import (
    import_hr_member,
    import_job_confirm,
    import_job_create,
    import_job_progress,
    import_jobs_visible_to,
)
from flows.imports_checks import COLUMNS
from flows.imports_read import max_bytes
from flows.models import ImportJob, ImportKind, ImportStatus
from points.exports import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, csv_bytes, xlsx_bytes
from points.roles import Role
from points.selectors.org import member_name_of, user_roles

ROWS_PER_PAGE = 100


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("the file holds"),
        choices=ImportKind.choices,
        initial=ImportKind.EVENTS,
        widget=forms.RadioSelect,
    )
    file = forms.FileField(
        label=gettext_lazy("file (XLSX or CSV)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,text/csv"}),
    )


def _job(request: HttpRequest, pk: int, *, rows: bool = True) -> ImportJob:
    """The job, for HR of its organisation only (403 for anyone but HR, 404 for another
    organisation's job); without its rows unless the page shows them, and then with
    ``uploaded_by_name``, the uploader's member name."""
    import_hr_member(user=request.user)
    jobs = import_jobs_visible_to(user=request.user)
    if rows:
        jobs = jobs.select_related("uploaded_by").annotate(
            uploaded_by_name=member_name_of("uploaded_by")
        )
    else:
        jobs = jobs.defer("rows", "errors")
    job: ImportJob = get_object_or_404(jobs, pk=pk)
    return job


class ImportListView(View):
    """Upload a file; the organisation's earlier imports below."""

    template_name = "flows/import_list.html"

    def _render(self, request: HttpRequest, form: ImportUploadForm) -> HttpResponse:
        jobs = (
            import_jobs_visible_to(user=request.user)
            .select_related("uploaded_by")
            .annotate(uploaded_by_name=member_name_of("uploaded_by"))
        )
        page = Paginator(jobs.defer("rows"), 20).get_page(request.GET.get("page"))
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "page": page,
                "columns": {kind: COLUMNS[kind] for kind in ImportKind},
                "kinds": ImportKind,
                "max_mb": max_bytes() // (1024 * 1024),
            },
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        import_hr_member(user=request.user)
        return self._render(request, ImportUploadForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        import_hr_member(user=request.user)
        form = ImportUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form)
        upload = form.cleaned_data["file"]
        if upload.size > max_bytes():
            form.add_error(
                "file",
                gettext_lazy("The file is larger than %(mb)s MB; split it into smaller files.")
                % {"mb": max_bytes() // (1024 * 1024)},
            )
            return self._render(request, form)
        try:
            job = import_job_create(
                user=request.user,
                kind=form.cleaned_data["kind"],
                file_name=upload.name,
                content=upload.read(),
            )
        except ValidationError as error:
            form.add_error("file", error)
            return self._render(request, form)
        return HttpResponseRedirect(reverse("declarations:imports:detail", args=[job.pk]))


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The preview (each row's verdict, bad rows first), or the progress and the outcome."""
    job = _job(request, pk)
    only_bad = request.GET.get("show") == "bad"
    rows = [row for row in job.rows if row.get("error")] if only_bad else job.rows
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "flows/import_detail.html",
        {
            "job": job,
            "page": page,
            "only_bad": only_bad,
            "progress": import_job_progress(job=job),
            "running": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
            "kinds": ImportKind,
            "statuses": ImportStatus,
        },
    )


@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk, rows=False)
    try:
        import_job_confirm(job=job, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return HttpResponseRedirect(reverse("declarations:imports:detail", args=[job.pk]))


@require_GET
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """The progress bar's data: status, rows done, rows in all, and the outcome."""
    job = _job(request, pk, rows=False)
    response = JsonResponse(import_job_progress(job=job))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def import_template(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    """An empty file with the header row, to fill in."""
    import_hr_member(user=request.user)
    if kind not in ImportKind.values or fmt not in ("csv", "xlsx"):
        raise Http404
    headers = [column.headers[0] for column in COLUMNS[ImportKind(kind)]]
    if fmt == "csv":
        content, content_type = csv_bytes(headers, []), CSV_CONTENT_TYPE
    else:
        content, content_type = xlsx_bytes(headers, [], title=kind), XLSX_CONTENT_TYPE
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, f"import-{kind}.{fmt}") or ""
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ImportViewset(AppMenuMixin, Viewset):
    """批量导入: HR's uploads of attendance and spot-check events, and attendance days."""

    title = gettext_lazy("Bulk import")
    icon = "upload_file"
    app_name = "imports"

    index_path = path("", ImportListView.as_view(), name="index")
    template_path = path("template/<str:kind>.<str:fmt>", import_template, name="template")
    detail_path = path("<int:pk>/", import_detail, name="detail")
    confirm_path = path("<int:pk>/confirm/", import_confirm, name="confirm")
    status_path = path("<int:pk>/status/", import_status, name="status")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return Role.HR in user_roles(user=user)
