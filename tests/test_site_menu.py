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
