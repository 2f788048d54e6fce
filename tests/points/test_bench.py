"""``manage.py bench`` runs end to end at a tiny scale and reports every figure."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from flows import bench as flows_bench
from points import pdf as pdf_module
from points.selectors.ledger import ledger_verify

ENGINE = "of which viewflow (all but our item form and services)"


@pytest.mark.django_db(transaction=True)
def test_bench_reports_figures_beside_baselines_as_json() -> None:
    out = StringIO()
    args = ["--members", "80", "--entries", "4000", "--months", "3", "--batch", "200"]
    call_command("bench", *args, "--json", stdout=out, stderr=StringIO())
    figures = json.loads(out.getvalue())
    names = [f["name"] for f in figures]
    assert any(n.startswith("batch posting") for n in names)
    assert any(n.startswith("monthly top-100 ranking") for n in names)
    assert any("median-ranked" in n for n in names) and any("lowest-ranked" in n for n in names)
    assert any("peak memory" in n for n in names)
    # flows register their figures: the declaration flow beside a bare viewflow flow
    assert any(n.startswith("declarations/s, start") for n in names)
    assert any(n == "queries per declaration" for n in names)
    cost = {f["name"].strip(): f["ours"] for f in figures if f["unit"] == "ms"}
    total, engine = cost["ms per declaration (1 client)"], cost[ENGINE]
    assert engine + cost["of which our item form and services"] == pytest.approx(total)
    # the floor: the declaration's shape in viewflow with no work in it, driven as ours
    shape = cost["the declaration's shape in viewflow, no work in it"]
    assert 0 < shape < total
    queries = {f["name"].strip(): f for f in figures if f["unit"] == "queries"}
    ours_queries = queries["queries per declaration"]
    floor = queries["queries of the declaration's shape, no work in it"]
    assert floor["baseline"] == ours_queries["baseline"] < floor["ours"] < ours_queries["ours"]
    pdf = next(f for f in figures if f["name"] == "publicity PDF of 1000 rows")
    assert pdf["unit"] == "ms" and pdf["baseline"] > 0
    concurrent = next(n for n in names if "4 clients" in n)
    if connection.vendor == "postgresql":  # SQLite's in-memory test database locks tables
        assert "(0 errors, 0 lost or duplicated" in concurrent
    for figure in figures:
        assert set(figure) >= {"name", "ours", "baseline", "ratio", "unit"}
        assert figure["ours"] > 0
        if figure["baseline"]:
            assert figure["ratio"] == pytest.approx(figure["ours"] / figure["baseline"], rel=1e-3)
    # The generated organisation and the benchmark's postings keep every invariant.
    assert ledger_verify() == []

    # A second run reuses the organisation; the table form prints too.
    text = StringIO()
    call_command("bench", *args, stdout=text)
    assert "reusing the bench organisation" in text.getvalue()
    assert "entries/s" in text.getvalue()


def _pdf_fails(htmls: object, page_rule: str = "") -> bytes:
    raise ValueError("layout broke")


def _pdf_dies(htmls: object, page_rule: str = "") -> bytes:
    os._exit(3)


def _pdf_hangs(htmls: object, page_rule: str = "") -> bytes:
    time.sleep(60)
    return b"%PDF"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_pdf_fails, "the PDF child failed: ValueError('layout broke')"),
        (_pdf_dies, "the PDF child ended without an answer (exit code 3)"),
        (_pdf_hangs, "the PDF child gave no answer in 1 s"),
    ],
)
def test_a_pdf_child_that_fails_dies_or_hangs_is_an_error_not_a_wait(
    make: Any, message: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The bench's PDF figure is made in a forked child: whatever becomes of the child, the
    parent gets an answer (CI once waited 90 minutes on a child that never answered)."""
    monkeypatch.setattr(pdf_module, "pdf_from_parts", make)
    monkeypatch.setattr(flows_bench, "CHILD_TIMEOUT_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(RuntimeError) as raised:
        flows_bench._in_child(["<p>一</p>"])
    assert str(raised.value) == message
    assert time.monotonic() - started < 20
    assert multiprocessing.active_children() == []  # the hanging child was killed and reaped
    if make is _pdf_hangs:  # and said where it was first
        assert "in _pdf_hangs" in capfd.readouterr().err


def test_a_pdf_child_answers_its_seconds_and_size() -> None:
    seconds, size = flows_bench._in_child(["<p>一</p>", "<p>二</p>"], "@page { size: A4 }")
    assert seconds > 0 and size > 1000
