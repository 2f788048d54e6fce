"""Requests sent at the same moment, round after round, each sender from its own thread and
database connection: the harness of the PostgreSQL race tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.test import Client

#: One round's requests: each sender's name → (URL, POST data).
Requests = dict[str, tuple[str, dict[str, Any]]]
#: What each sender was answered in a round: (name, status, Location).
Answers = list[tuple[str, int, str]]


def rounds_at_once(
    senders: Sequence[tuple[str, Client]],
    rounds: int,
    prepare: Callable[[int], Requests],
    check: Callable[[int, Answers], None],
    delay: Callable[[str, int], float] = lambda name, round_: 0.0,
) -> None:
    """Each round: ``prepare(round)`` (in this thread) says what each sender posts; all of
    them post at once (a sender waits ``delay(name, round)`` seconds first); none may fail
    with a 500 (the test client raises it); then ``check(round, answers)``."""
    go = threading.Barrier(len(senders) + 1, timeout=120)
    done = threading.Barrier(len(senders) + 1, timeout=120)
    requests: list[Requests] = [{}]
    answers: list[Answers] = [[] for _ in range(rounds)]
    errors: list[BaseException] = []

    def send(name: str, client: Client) -> None:
        try:
            for round_ in range(rounds):
                go.wait()
                try:
                    time.sleep(delay(name, round_))
                    url, data = requests[0][name]
                    response = client.post(url, data)
                    answers[round_].append(
                        (name, response.status_code, response.get("Location", ""))
                    )
                except BaseException as error:  # a 500 raises here
                    errors.append(error)
                done.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            connection.close()

    connection.close()  # the threads open their own connections
    threads = [
        threading.Thread(target=send, args=(name, client), daemon=True) for name, client in senders
    ]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(rounds):
            requests[0] = prepare(round_)
            go.wait()
            done.wait()
            assert not errors, (round_, answers[round_], [repr(e)[:300] for e in errors[:2]])
            check(round_, answers[round_])
    finally:
        go.abort()
        done.abort()
        for thread in threads:
            thread.join(timeout=60)
        connection.close()
    assert not any(thread.is_alive() for thread in threads), "a sender is stuck"
