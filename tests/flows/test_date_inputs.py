"""Every date picker (``<input type="date">``) writes its value as ISO (2026-11-30) under
zh-hans too: browsers read nothing else, and a locale-formatted value (2026/11/30) leaves
the field empty, so a required date could never be sent."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django import forms
from django.utils import translation

from flows.models import Summary
from flows.mypoints_filters import HistoryFilter
from flows.publicity_views import SummaryStartForm
from points.exports_views import LedgerExportFilter
from points.widgets import IsoDateInput
from tests.conftest import Org

pytestmark = pytest.mark.django_db

SUMMARY_START = "/publicity/summary/start/"
DAY = date(2026, 11, 30)


def _date_inputs(html: str) -> dict[str, str]:
    """``name → value`` of the page's ``<input type="date">`` elements."""
    found = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="date"' in tag:
            name = re.search(r'name="([^"]*)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            assert name is not None, tag
            found[name.group(1)] = value.group(1) if value else ""
    return found


def test_the_summary_start_page_offers_today_in_iso(org: Org, login: Any) -> None:
    client = login(org.hr)
    html = client.get(SUMMARY_START).content.decode()
    assert _date_inputs(html) == {"on": "2026-11-20"}  # today (tests run on 2026-11-20)
    assert "2026/11/20" not in html


def test_the_summary_start_page_takes_back_what_it_offers(org: Org, login: Any, idea: Any) -> None:
    """The page's own values, sent back as a browser would, open the summary."""
    from tests.flows.test_declaration_flow import _decide, _declare

    assert _declare(org.worker_a1, idea).status_code == 302
    assert _decide(org.leader_a1, "approve").status_code == 302
    client = login(org.hr)
    html = client.get(SUMMARY_START).content.decode()
    scope = re.search(r'<option value="(\d+)" selected>', html)
    assert scope is not None, "a scope is chosen"
    response = client.post(SUMMARY_START, {"scope": scope.group(1), **_date_inputs(html)})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Summary.objects.get().scope_id == org.company.pk


def _widgets() -> dict[str, forms.Widget]:
    """Every date widget of the pages' forms and filters."""
    widgets: dict[str, forms.Widget] = {
        "summary start: on": SummaryStartForm.base_fields["on"].widget,
    }
    for filterset in (HistoryFilter, LedgerExportFilter):
        for name, filter_ in filterset.base_filters.items():
            widget = filter_.extra.get("widget")
            if widget is not None:
                widgets[f"{filterset.__name__}: {name}"] = (
                    widget() if isinstance(widget, type) else widget
                )
    return widgets


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_date_picker_writes_an_initial_date_in_iso(language: str) -> None:
    widgets = _widgets()
    assert set(widgets) >= {
        "summary start: on",
        "HistoryFilter: date_from",
        "HistoryFilter: date_to",
        "LedgerExportFilter: on",
    }
    with translation.override(language):
        for name, widget in widgets.items():
            html = widget.render("day", DAY)
            assert 'type="date"' in html, name
            assert 'value="2026-11-30"' in html, (name, html)


def test_the_iso_date_input_keeps_its_attributes() -> None:
    with translation.override("zh-hans"):
        html = IsoDateInput(attrs={"min": "2026-01-01"}).render("day", DAY)
    assert 'type="date"' in html and 'min="2026-01-01"' in html
    assert 'value="2026-11-30"' in html


def test_filters_given_a_date_show_it_back_in_iso(org: Org, login: Any) -> None:
    """A filtered page shows the dates it filtered by, as the browser sent them."""
    worker = login(org.worker_a1)
    html = worker.get("/points/me/", {"date_from": "2026-11-01", "date_to": "2026-11-30"})
    assert _date_inputs(html.content.decode()) == {
        "date_from": "2026-11-01",
        "date_to": "2026-11-30",
    }
    hr = login(org.hr)
    page = hr.get("/reports/ledger/", {"period": "month", "on": "2026-11-15"})
    assert page.status_code == 200
    assert _date_inputs(page.content.decode()) == {"on": "2026-11-15"}
