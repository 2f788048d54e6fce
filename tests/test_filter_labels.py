"""The drop-downs of every filter (django-filter's FilterSets, ``FILTERS_EMPTY_CHOICE_LABEL``
in the settings) offer "All" (全部) for the choice that filters nothing, not "---------";
the summary's required scope has no empty choice at all and starts at the whole
organisation."""

from __future__ import annotations

import re
from typing import Any

import django_filters
import pytest
from django.conf import settings
from django.utils import translation

from points.models import OrgUnit, RuleKind
from tests.conftest import Org

pytestmark = pytest.mark.django_db

#: The filter pages and the drop-downs each has.
PAGES = [
    ("worker_a1", "/points/me/", ["kind", "direction"]),
    ("worker_a1", "/points/rule_catalog/", ["category", "kind"]),
    ("hr", "/reports/ledger/", ["unit", "period", "kind", "rule"]),
]


def _first_options(html: str) -> dict[str, str]:
    """``select name → (value, text)`` of each drop-down's first option."""
    found = {}
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        first = re.search(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', body)
        assert first is not None, name
        found[name] = f"{first.group(1)}={first.group(2)}"
    return found


@pytest.mark.parametrize(("who", "url", "selects"), PAGES)
@pytest.mark.parametrize(("language", "label"), [("zh-hans", "全部"), ("en", "All")])
def test_a_filter_offers_all_as_its_empty_choice(
    org: Org, login: Any, who: str, url: str, selects: list[str], language: str, label: str
) -> None:
    client = login(getattr(org, who))
    if language == "en":
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(url).content.decode()
    assert "---------" not in html
    first = _first_options(html)
    for name in selects:
        assert first.get(name) == f"={label}", (url, name, first)


def test_every_filterset_of_the_project_says_all() -> None:
    """The setting reaches every FilterSet's choice and model-choice filters, the API's
    included, with no FilterSet to remember."""
    choice = django_filters.ChoiceFilter(choices=RuleKind.choices).field
    units = django_filters.ModelChoiceFilter(queryset=OrgUnit.objects.none()).field
    with translation.override("zh-hans"):
        assert next(str(label) for _, label in choice.choices) == "全部"
        assert str(units.empty_label) == "全部"
    with translation.override("en"):
        assert str(units.empty_label) == "All"


def test_the_summarys_scope_starts_at_the_whole_organisation(org: Org, login: Any) -> None:
    html = login(org.hr).get("/publicity/summary/start/").content.decode()
    scope = re.search(r'<select name="scope"[^>]*>(.*?)</select>', html, re.S)
    assert scope is not None
    assert "---------" not in scope.group(1)
    options = re.findall(r'<option value="(\d+)"( selected)?>', scope.group(1))
    assert options[0] == (str(org.company.pk), " selected")  # the top unit, chosen
    assert {int(pk) for pk, _ in options} == {
        org.company.pk,
        org.dept_a.pk,
        org.dept_b.pk,
        org.team_a1.pk,
    }
