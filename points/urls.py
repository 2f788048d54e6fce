"""Reports of the points module: statements and rankings as PDF and XLSX."""

from __future__ import annotations

from django.urls import URLPattern, path

from points import reports

app_name = "reports"

urlpatterns: list[URLPattern] = [
    path("statement/", reports.statement_pdf, name="statement"),
    path("statement/form/", reports.statement_form, name="statement_form"),
    path("statement/<int:member_id>/", reports.statement_pdf, name="statement"),
    path("ranking/", reports.ranking, name="ranking"),
]
