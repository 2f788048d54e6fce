"""The audit log page reads in words: the action filter is a list of the known actions, and
each event's details show translated labels and formatted values (ids kept), with the raw
data kept for auditors, user text escaped."""

from __future__ import annotations

import re
from typing import Any

import pytest

from points.models import AuditEvent
from points.models.audit import ACTION_LABELS
from tests.conftest import Org

pytestmark = pytest.mark.django_db

URL = "/points/audit/"


def _event(org: Org, action: str, data: Any = None, **fields: Any) -> AuditEvent:
    return AuditEvent.objects.create(
        organisation=org.organisation,
        actor=org.hr.user,
        action=action,
        data={} if data is None else data,
        **fields,
    )


def _rows(html: str) -> list[str]:
    return re.findall(r'id="audit-(\d+)"', html)


def _details(html: str, event: AuditEvent) -> str:
    """The details cell of ``event``'s row."""
    row = html.split(f'id="audit-{event.pk}"')[1].split("</tr>")[0]
    return row.split('class="pts-audit-details"')[1]


def _labelled(cell: str) -> list[tuple[str, str, str]]:
    """(key, label, value) of each labelled detail."""
    return re.findall(r'<dt title="([^"]*)">(.*?)</dt><dd>(.*?)</dd>', cell)


def test_the_action_filter_lists_the_known_actions_in_words(org: Org, login: Any) -> None:
    html = login(org.hr).get(URL).content.decode()
    form = html.split('id="audit-filter"')[1].split("</form>")[0]
    assert 'name="action"' in form and not re.search(r'<input[^>]*name="action"', form)
    select = form.split('<select name="action"')[1].split("</select>")[0]
    options = re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', select)
    assert options[0] == ("", "全部操作")
    assert [code for code, _label in options[1:]] == list(ACTION_LABELS)
    assert dict(options)["ledger.post"] == "记入积分"
    assert dict(options)["permission.denied"] == "拒绝访问"


def test_an_action_chosen_from_the_list_shows_that_action_only(org: Org, login: Any) -> None:
    escalated = _event(org, "declaration.escalate")
    overdue = _event(org, "declaration.escalate_overdue")
    client = login(org.hr)
    chosen = client.get(URL, {"action": "declaration.escalate"}).content.decode()
    assert _rows(chosen) == [str(escalated.pk)]
    assert re.search(r'<option value="declaration.escalate" selected>申报上报上级</option>', chosen)
    assert _rows(client.get(URL, {"action": "declaration.escalate_overdue"}).content.decode()) == [
        str(overdue.pk)
    ]
    # A prefix typed into the address still matches as a prefix, and stays chosen.
    typed = client.get(URL, {"action": "declaration."}).content.decode()
    assert sorted(_rows(typed)) == sorted([str(escalated.pk), str(overdue.pk)])
    assert '<option value="declaration." selected>declaration.</option>' in typed


def test_details_read_in_words_with_ids_kept(org: Org, login: Any) -> None:
    posting = _event(
        org,
        "ledger.post",
        {
            "posted": 1,
            "replayed": 0,
            "refused": [["redemption:6", "frozen account"]],
            "first_key": "redemption:5",
            "last_key": "redemption:5",
        },
    )
    prizes = _event(
        org,
        "prizes.award",
        {
            "table": 3,
            "period_start": "2026-10-01",
            "winners": [[143, 1, "100元"], [37, 2, "80元"]],
            "vetoed_skipped": [],
        },
    )
    denial = _event(
        org, "permission.denied", {"method": "GET", "path": "/points/dashboard/", "reason": ""}
    )
    roles = _event(org, "role.grant", {"user": 7, "roles": ["committee", "hr"]})
    ruling = _event(org, "appeal.rule", {"item": 16, "ruling": "amend", "points": 20})
    catalog = _event(
        org, "catalog.create", {"rule": 1, "code": "PERF-001", "points": [10, 30], "active": True}
    )
    odd = _event(org, "x.y", {"zeta": {"a": 1}, "alpha": None})
    html = login(org.hr).get(URL).content.decode()

    assert _labelled(_details(html, posting)) == [
        ("posted", "已记入", "1"),
        ("replayed", "此前已记入", "0"),
        ("refused", "被拒绝", "redemption:6: frozen account"),
        ("first_key", "首条幂等键", "redemption:5"),
        ("last_key", "末条幂等键", "redemption:5"),
    ]
    assert _labelled(_details(html, prizes)) == [
        ("table", "奖励表", "#3"),
        ("period_start", "期间开始", "2026-10-01"),
        ("winners", "获奖者", "#143 第 1 名：100元、#37 第 2 名：80元"),
        ("vetoed_skipped", "因一票否决跳过", "—"),
    ]
    assert _labelled(_details(html, denial)) == [
        ("method", "请求方式", "GET"),
        ("path", "地址", "/points/dashboard/"),
        ("reason", "理由", "—"),
    ]
    assert _labelled(_details(html, roles)) == [
        ("user", "用户", "#7"),
        ("roles", "角色", "考核管理委员会、人力资源部"),
    ]
    assert _labelled(_details(html, ruling)) == [
        ("item", "积分项", "#16"),
        ("ruling", "裁定", "调整分值"),
        ("points", "分值", "20"),
    ]
    assert _labelled(_details(html, catalog)) == [
        ("rule", "奖扣分标准条目", "#1"),
        ("code", "规则编号", "PERF-001"),
        ("points", "分值", "10–30"),
        ("active", "启用", "是"),
    ]
    # Keys without a label show under their own names, after the known ones.
    assert _labelled(_details(html, odd)) == [("alpha", "alpha", "—"), ("zeta", "zeta", "a: 1")]
    # The old dump is gone; the raw data is one tap away, as stored.
    assert "first_key: redemption:5;" not in html and "winners: [[" not in html
    raw = _details(html, posting).split('<details class="pts-raw">')[1].split("</details>")[0]
    assert "<summary>原始数据</summary>" in raw
    assert "&quot;first_key&quot;: &quot;redemption:5&quot;" in raw
    assert "[[&quot;redemption:6&quot;, &quot;frozen account&quot;]]" in raw


def test_data_that_is_not_a_mapping_is_kept_raw(org: Org, login: Any) -> None:
    listed = _event(org, "x.list", [1, 2])
    empty = _event(org, "x.empty")
    html = login(org.hr).get(URL).content.decode()
    assert "<dl" not in _details(html, listed) and "<code>[1, 2]</code>" in _details(html, listed)
    assert "pts-raw" not in _details(html, empty) and "<dl" not in _details(html, empty)


def test_user_text_in_the_details_is_escaped(org: Org, login: Any) -> None:
    event = _event(
        org,
        "appeal.lodge",
        {"item": 3, "reason": "<script>alert(1)</script>", "<b>key</b>": "<i>x</i>"},
    )
    cell = _details(login(org.hr).get(URL).content.decode(), event)
    assert "<script>" not in cell and "<b>" not in cell and "<i>" not in cell
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cell
    assert '<dt title="&lt;b&gt;key&lt;/b&gt;">&lt;b&gt;key&lt;/b&gt;</dt>' in cell
