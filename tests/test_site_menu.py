"""Every page's menu leads home: home alone has the task counts and each role's actions,
and viewflow's menu offered no way back to it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/declarations/declaration/", "/publicity/board/", "/shop/rewards/", "/points/me/"]
)
def test_the_menu_leads_home(org: Org, login: Any, url: str) -> None:
    html = login(org.worker_a1).get(url).content.decode()
    home = re.search(r'<a [^>]*pts-menu-home[^>]*href="/"[^>]*>.*?</a>', html, re.S)
    assert home and "首页" in home.group(0)


def test_the_menu_names_the_board_apart_from_its_application(org: Org, login: Any) -> None:
    html = login(org.worker_a1).get("/publicity/board/").content.decode()
    items = re.findall(r'mdc-list-item__content">\s*([^<]+?)\s*<', html)
    assert "公示栏" in items and items.count("公示") == 1


@pytest.mark.parametrize(
    "url", ["/", "/declarations/declaration/", "/declarations/declaration/inbox/", "/points/me/"]
)
def test_the_menu_button_is_named_in_the_user_s_language(org: Org, login: Any, url: str) -> None:
    """A screen reader announced viewflow's menu button in English on every page."""
    client = login(org.worker_a1)
    html = client.get(url).content.decode()
    assert 'aria-label="打开导航菜单"' in html and "Open navigation menu" not in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert 'aria-label="Open navigation menu"' in client.get(url).content.decode()
