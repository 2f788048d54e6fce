"""Reports of the points module: statements and rankings as PDF, XLSX and CSV; the
ledger export for HR."""

from __future__ import annotations

from django.urls import URLPattern, path

from points import exports_views, reports

app_name = "reports"

urlpatterns: list[URLPattern] = [
    path("statement/", reports.statement_pdf, name="statement"),
    path("statement/form/", reports.statement_form, name="statement_form"),
    path("statement/<int:member_id>/", reports.statement_pdf, name="statement"),
    path("ranking/", reports.ranking, name="ranking"),
    path("ledger/", exports_views.ledger_export, name="ledger"),
]
