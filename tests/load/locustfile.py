"""The load test of ``make loadtest`` (``.ci/loadtest``): demo members declare points and look
at their points and the publicity board, their team leaders review. Only ever aimed at the
stack ``.ci/loadtest`` starts on 127.0.0.1.

Not a pytest module (pytest collects ``test_*.py`` only). It needs locust, which
``.ci/loadtest`` installs in its own virtualenv (``var/locust-venv``), and two files it writes:

* ``LOADTEST_USERS``: ``{"password": ..., "teams": [{"leader": username, "members":
  [username, ...]}, ...]}``, the demo factory's teams;
* ``LOADTEST_SUMMARY`` (written here at the end): per request name the count, failures,
  p50/p95/p99/max in ms, and the HTTP status counts; the process exits 1 on any 5xx or
  connection error, or on any failed request.

Every request is named by page (``/publicity/board/[id]/``), so the figures are per page.
The API authenticates with ``Authorization: Token`` (``POST /api/v1/tokens/``); the HTML
pages with a session from the login form.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from locust import HttpUser, between, events, task

TIMEOUT = 30  # seconds, for any one request
#: Rules a member may declare without evidence, with no daily or monthly cap, and worth
#: less than a team leader's authority tier (20), so the leader's approval is final.
DECLARABLE_RULES = ("ATT-001", "SAF-001", "PERF-007")
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
BATCH_LINK = re.compile(r'href="/publicity/board/(\d+)/"')

_lock = threading.Lock()
_config: dict[str, Any] = {}
_declarers: Any = None  # itertools.cycle over (member username, leader username)
_leaders: Any = None
_batch_ids: set[int] = set()
_status: dict[str, Counter[int]] = defaultdict(Counter)


def _load() -> dict[str, Any]:
    global _declarers, _leaders
    with _lock:
        if not _config:
            _config.update(json.loads(Path(os.environ["LOADTEST_USERS"]).read_text()))
            teams = _config["teams"]
            # Interleave the teams, so any number of users spreads over every leader.
            pairs = [
                (member, team["leader"])
                for column in itertools.zip_longest(*(team["members"] for team in teams))
                for team, member in zip(teams, column, strict=True)
                if member is not None
            ]
            _declarers = itertools.cycle(pairs)
            _leaders = itertools.cycle([team["leader"] for team in teams])
        return _config


def _next(iterator_name: str) -> Any:
    with _lock:
        return next(globals()[iterator_name])


def _today() -> str:
    return datetime.now(ZoneInfo(os.environ.get("TIME_ZONE", "Asia/Shanghai"))).date().isoformat()


class _Client(HttpUser):
    abstract = True
    wait_time = between(1, 3)
    username = ""
    api: dict[str, str]

    def api_login(self) -> None:
        with self.client.post(
            "/api/v1/tokens/",
            json={"username": self.username, "password": _load()["password"]},
            name="/api/v1/tokens/ [POST]",
            timeout=TIMEOUT,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"token for {self.username}: {response.status_code}")
                raise RuntimeError(response.text[:200])
            self.api = {"Authorization": f"Token {response.json()['token']}"}

    def web_login(self) -> None:
        """The login form, as a browser: GET for the CSRF cookie and token, POST, 302."""
        page = self.client.get("/accounts/login/", name="/accounts/login/", timeout=TIMEOUT)
        match = CSRF_INPUT.search(page.text)
        if match is None:
            raise RuntimeError("no CSRF token on the login page")
        self._plain_http_cookies()
        with self.client.post(
            "/accounts/login/",
            data={
                "username": self.username,
                "password": _load()["password"],
                "csrfmiddlewaretoken": match.group(1),
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="/accounts/login/ [POST]",
            allow_redirects=False,
            timeout=TIMEOUT,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {self.username}: {response.status_code}")
                raise RuntimeError("login refused")
        self._plain_http_cookies()

    def _plain_http_cookies(self) -> None:
        """project.settings.production marks the session and CSRF cookies Secure, and a
        cookie jar (like a browser) does not send those over plain http. The stack here is
        plain http on the loopback, so send them anyway (a no-op once the production
        settings let SESSION_COOKIE_SECURE / CSRF_COOKIE_SECURE be switched off)."""
        for cookie in self.client.cookies:
            cookie.secure = False

    def page(self, path: str, name: str) -> str:
        """An HTML page of a logged-in user: 200, not the login page."""
        self._plain_http_cookies()
        with self.client.get(path, name=name, timeout=TIMEOUT, catch_response=True) as response:
            if response.status_code != 200 or "/accounts/login/" in response.url:
                response.failure(f"{response.status_code} at {response.url}")
                return ""
            return str(response.text)


class Member(_Client):
    """A demo member of a factory team: declares (JSON API), reads 我的积分 and the
    publicity board and its batches (HTML, session)."""

    weight = 10

    def on_start(self) -> None:
        _load()
        self.username, self.leader = _next("_declarers")
        self.api_login()
        self.web_login()
        rules = self.client.get(
            "/api/v1/rules/?page_size=200", headers=self.api, name="/api/v1/rules/", timeout=TIMEOUT
        ).json()["results"]
        self.rules = [rule["id"] for rule in rules if rule["code"] in DECLARABLE_RULES]
        if not self.rules:
            raise RuntimeError(f"none of {DECLARABLE_RULES} in the catalog")

    @task(3)
    def declare(self) -> None:
        body = {
            "items": [
                {
                    "rule_item": random.choice(self.rules),
                    "quantity": 1,
                    "event_date": _today(),
                    "place": "装配车间",
                    "description": "负载测试申报",
                }
            ]
        }
        with self.client.post(
            "/api/v1/declarations/",
            json=body,
            headers={**self.api, "Idempotency-Key": uuid.uuid4().hex},
            name="/api/v1/declarations/ [POST]",
            timeout=TIMEOUT,
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:300]}")

    @task(4)
    def my_points(self) -> None:
        self.page("/points/me/", "/points/me/")

    @task(2)
    def publicity_board(self) -> None:
        html = self.page("/publicity/board/", "/publicity/board/")
        found = {int(pk) for pk in BATCH_LINK.findall(html)}
        if found:
            with _lock:
                _batch_ids.update(found)

    @task(2)
    def publicity_batch(self) -> None:
        with _lock:
            ids = sorted(_batch_ids)
        if not ids:
            self.publicity_board()
            return
        self.page(f"/publicity/board/{random.choice(ids)}/", "/publicity/board/[id]/")


class Leader(_Client):
    """A team leader: lists their inbox (JSON API) and approves the declarations in it."""

    fixed_count = 4  # one per team of the demo factory

    def on_start(self) -> None:
        _load()
        self.username = _next("_leaders")
        self.api_login()

    @task
    def review(self) -> None:
        inbox = self.client.get(
            "/api/v1/tasks/?flow=declaration",
            headers=self.api,
            name="/api/v1/tasks/",
            timeout=TIMEOUT,
        )
        if inbox.status_code != 200:
            return
        reviews = [t for t in inbox.json()["results"] if t["step"] == "review"]
        for item in reviews[:5]:
            with self.client.post(
                f"/api/v1/tasks/{item['id']}/approve/",
                json={"reason": ""},
                headers=self.api,
                name="/api/v1/tasks/[id]/approve/ [POST]",
                timeout=TIMEOUT,
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"{response.status_code}: {response.text[:300]}")


@events.request.add_listener
def _count_status(name: str, response: Any = None, exception: Any = None, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    with _lock:
        _status[name][int(status)] += 1


@events.quitting.add_listener
def _summary(environment: Any, **_: Any) -> None:
    """Per page: count, failures, p50/p95/p99/max (ms), status counts; exit 1 on any 5xx,
    connection error or failed request."""
    pages = {}
    for (name, method), entry in sorted(environment.stats.entries.items()):
        pages[name] = {
            "method": method,
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.5),
            "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99),
            "max": entry.max_response_time,
            "avg": round(entry.avg_response_time, 1),
            "status": {str(code): n for code, n in sorted(_status.get(name, Counter()).items())},
        }
    total = environment.stats.total
    statuses: Counter[int] = Counter()
    for counts in _status.values():
        statuses.update(counts)
    server_errors = sum(n for code, n in statuses.items() if code >= 500)
    summary = {
        "pages": pages,
        "total": {
            "requests": total.num_requests,
            "failures": total.num_failures,
            "p50": total.get_response_time_percentile(0.5),
            "p95": total.get_response_time_percentile(0.95),
            "rps": round(total.total_rps, 1),
        },
        "status": {str(code): n for code, n in sorted(statuses.items())},
        "server_errors": server_errors,
        "connection_errors": statuses.get(0, 0),
    }
    target = os.environ.get("LOADTEST_SUMMARY")
    if target:
        Path(target).write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if server_errors or statuses.get(0, 0) or total.num_failures:
        environment.process_exit_code = 1
