"""Flow figures for ``manage.py bench``: declarations per second through start → approve
into the pending pool, from code without HTTP, beside a bare viewflow flow (StartHandle →
Handle → End) measured in the same run; one client and four concurrent clients."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.http import Http404
from django.utils.datastructures import MultiValueDict
from viewflow import this
from viewflow.workflow import flow

from flows.flows import DeclarationFlow
from flows.forms import DeclarationItemForm
from flows.models import Declaration, DeclarationItem
from flows.services import declaration_review, declaration_submit
from flows.tasklock import task_row_lock
from points.bench import Context, Figure
from points.models import Member, OrgUnit, RuleItem

# A concurrent client that has not finished after this long is stuck.
CLIENTS_TIMEOUT_SECONDS = 120


class BareFlow(flow.Flow):
    """The smallest viewflow process: the baseline of the flow figures."""

    start = flow.StartHandle(this.start_process).Next(this.task)
    task = flow.Handle(this.handle_task).Next(this.end)
    end = flow.End()

    def start_process(self, activation: Any, **kwargs: Any) -> Any:
        return activation.process

    def handle_task(self, activation: Any, **kwargs: Any) -> None:
        return None


def _never_served(request: Any, **kwargs: Any) -> Any:
    raise Http404  # the shape flow has no pages: the bench drives it from code


class ShapeFlow(flow.Flow):
    """The declaration flow's shape (a start page, the review task, the route after it,
    the end) with no work in it: what viewflow alone costs a declaration, whatever we do."""

    start = flow.Start(_never_served).Next(this.review)
    review = flow.View(_never_served).Assign(this.reviewer).Next(this.route)
    route = flow.Switch().Case(this.review, this.again).Default(this.end)
    end = flow.End()

    def reviewer(self, activation: Any) -> Any:
        return vars(activation.process)["reviewer"]

    def again(self, activation: Any) -> bool:
        return False


class _QueryCounter:
    """Counts every statement on this connection (the debug query log is capped)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _bare_process() -> None:
    process = BareFlow.start.run()
    task = BareFlow.task_class.objects.get(process=process, flow_task=BareFlow.task)
    BareFlow.task.run(task)


def _shape_process(member: Member, reviewer: Any) -> None:
    """A declaration's way through viewflow alone, driven as ``_declare_and_approve``
    drives the real one."""
    with transaction.atomic():
        start = ShapeFlow.start.activation_class.create(ShapeFlow.start, None, None)
        start.start(SimpleNamespace(user=member.user))
        start.process.reviewer = reviewer
        start.process.save()  # the real one saves it before the record points at it
        start.execute()
    task = ShapeFlow.task_class.objects.get(
        process=start.process, flow_task=ShapeFlow.review, status="ASSIGNED"
    )
    with ShapeFlow.lock(task.process_id), transaction.atomic():
        review = task.flow_task.activation_class(task)
        review.start(SimpleNamespace(user=reviewer))
        review.execute()


def _setup(context: Context, members: int) -> tuple[Member, list[Member], RuleItem]:
    """A team with a leader and members who log in, and an uncapped rule, in the bench
    organisation (created once)."""
    organisation = context.organisation
    users = get_user_model()
    team = OrgUnit.objects.filter(organisation=organisation, code="flow-team").first()
    if team is None:
        root = OrgUnit.objects.get(organisation=organisation, code="root")
        team = OrgUnit.objects.create(
            organisation=organisation, code="flow-team", name="流程基准班组", parent=root
        )
        password = make_password(None)
        leader_user = users.objects.create(username="bench-flow-leader", password=password)
        leader = Member.objects.create(
            organisation=organisation,
            unit=team,
            user=leader_user,
            employee_no="BF-LEADER",
            name="基准组长",
        )
        team.leader = leader
        team.save()
        created = users.objects.bulk_create(
            users(username=f"bench-flow-{n}", password=password) for n in range(members)
        )
        for n, user in enumerate(created):
            Member.objects.create(
                organisation=organisation,
                unit=team,
                user=user,
                employee_no=f"BF-{n:05d}",
                name=f"基准成员{n}",
            )
        RuleItem.objects.create(
            organisation=organisation,
            code="BENCH-1",
            name="基准奖分",
            category="performance",
            kind="award",
            points_min=10,
            points_max=10,
        )
    leader = Member.objects.select_related("user").get(
        organisation=organisation, employee_no="BF-LEADER"
    )
    workers = list(
        Member.objects.select_related("unit", "organisation", "user")
        .filter(unit=team)
        .exclude(pk=leader.pk)
        .order_by("pk")
    )
    rule = RuleItem.objects.get(organisation=organisation, code="BENCH-1")
    return leader, workers, rule


class _Stopwatch:
    """Seconds spent inside ``with stopwatch:`` blocks, summed."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.seconds += time.perf_counter() - self._start


def _declare_and_approve(
    member: Member, rule: RuleItem, day: Any, tag: str, ours: _Stopwatch | None = None
) -> None:
    """Declare one item and approve it, as the start and review pages do. ``ours`` times
    our own code in it (the item form and the services); the rest is viewflow's."""
    ours = ours or _Stopwatch()
    with ours:
        form = DeclarationItemForm(
            data={
                "rule_item": rule.pk,
                "quantity": 1,
                "points": "",
                "event_date": day.isoformat(),
                "place": "bench",
                "description": tag,
            },
            files=MultiValueDict(),
            member=member,
        )
        if not form.is_valid():
            raise RuntimeError(form.errors.as_text())
    # one transaction, as viewflow's start view runs a POST
    with transaction.atomic():
        start = DeclarationFlow.start.activation_class.create(DeclarationFlow.start, None, None)
        start.start(SimpleNamespace(user=member.user))
        start.process.save()
        with ours:
            declaration = declaration_submit(
                user=member.user, member=member, item_forms=[form], process=start.process
            )
        start.execute()
    task = DeclarationFlow.task_class.objects.get(
        process=start.process, flow_task=DeclarationFlow.review, status="ASSIGNED"
    )
    # as viewflow's task view runs a POST (its flow lock, then a transaction); the review
    # page (a ``LockedView``) locks the task's row first
    with DeclarationFlow.lock(task.process_id), transaction.atomic():
        review = task.flow_task.activation_class(task)
        with ours:
            task_row_lock(task=task, user=declaration.reviewer)
        review.start(SimpleNamespace(user=declaration.reviewer))
        process = review.process
        with ours:
            declaration_review(
                declaration=declaration,
                user=declaration.reviewer,
                action="approve",
                process=process,
            )
        review.execute()


def bench_flows(context: Context) -> list[Figure]:
    count = min(200, max(20, context.scale.batch // 50))
    leader, workers, rule = _setup(context, members=count)
    day = context.last_month.replace(day=20)
    run = str(time.time_ns())
    context.log(f"flows: {count} declarations and {count} bare processes")

    our_code = _Stopwatch()

    def ours(index: int, tag: str = "bench") -> None:
        member = workers[index % len(workers)]
        _declare_and_approve(member, rule, day, f"{tag} {run} {index}", our_code)

    # warm-up, then one client
    ours(0, tag="warm-up")
    _bare_process()
    our_code.seconds = 0
    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        for index in range(count):
            ours(index)
        ours_seconds = time.perf_counter() - start
    ours_queries = counter.count / count
    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        for _ in range(count):
            _bare_process()
        bare_seconds = time.perf_counter() - start
    bare_queries = counter.count / count
    _shape_process(workers[0], leader.user)  # warm-up
    counter = _QueryCounter()
    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        for index in range(count):
            _shape_process(workers[index % len(workers)], leader.user)
        shape_seconds = time.perf_counter() - start
    shape_queries = counter.count / count

    # four concurrent clients, each on its own connection
    errors: list[BaseException] = []
    clients = 4

    def client(number: int) -> None:
        try:
            for index in range(number, count, clients):
                _declare_and_approve(
                    workers[index % len(workers)], rule, day, f"bench4 {run} {index}"
                )
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + CLIENTS_TIMEOUT_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():  # a client stuck (on a lock, say) fails the figure, not the run
            raise RuntimeError(f"a client did not finish in {CLIENTS_TIMEOUT_SECONDS} s")
    concurrent_seconds = time.perf_counter() - start
    pooled = DeclarationItem.objects.filter(
        description__startswith=f"bench4 {run} ", pool_month__isnull=False
    )
    lost_or_doubled = abs(pooled.count() - count) + (
        pooled.count() - pooled.values("description").distinct().count()
    )
    approved = Declaration.objects.filter(
        items__description__startswith=f"bench {run} ", status="approved"
    ).count()
    assert approved == count, "every declaration of the one-client run is approved"
    return [
        Figure(
            "declarations/s, start → approve into the pool (1 client)",
            count / ours_seconds,
            count / bare_seconds,
            "per s",
            "≥ 25/s, cost ≤ 1.5× the bare flow (baseline: bare viewflow processes/s)",
        ),
        Figure(
            "ms per declaration (1 client)",
            ours_seconds / count * 1000,
            bare_seconds / count * 1000,
            "ms",
            "≤ 1.5× (baseline: ms per bare process)",
        ),
        Figure(
            "  of which viewflow (all but our item form and services)",
            (ours_seconds - our_code.seconds) / count * 1000,
            bare_seconds / count * 1000,
            "ms",
            "(baseline: ms per bare process)",
        ),
        Figure(
            "  the declaration's shape in viewflow, no work in it",
            shape_seconds / count * 1000,
            bare_seconds / count * 1000,
            "ms",
            "(start → review → route → end, driven as ours; baseline: ms per bare process)",
        ),
        Figure(
            "  of which our item form and services",
            our_code.seconds / count * 1000,
            None,
            "ms",
            "",
        ),
        Figure(
            "queries per declaration",
            ours_queries,
            bare_queries,
            "queries",
            "(baseline: queries per bare process)",
        ),
        Figure(
            "  queries of the declaration's shape, no work in it",
            shape_queries,
            bare_queries,
            "queries",
            "(baseline: queries per bare process)",
        ),
        Figure(
            f"declarations/s with 4 clients ({len(errors)} errors, {lost_or_doubled} "
            "lost or duplicated pending items)",
            count / concurrent_seconds,
            None,
            "per s",
            "≥ 40/s, 0 errors, 0 lost or duplicated",
        ),
    ]


PDF_ROWS = 1000
CHILD_TIMEOUT_SECONDS = 120


def _in_child(htmls: list[str], page_rule: str = "") -> tuple[float, int]:
    """Seconds ``pdf_from_parts`` takes to make a PDF of ``htmls``, and its size, measured
    in a forked child process (the parent's memory is untouched). A child that fails, dies
    or gives no answer in ``CHILD_TIMEOUT_SECONDS`` is an error, never a wait for ever."""
    import multiprocessing

    from points.pdf import answer_where_asked, ask_where, pdf_from_parts

    def work(send: Any) -> None:
        try:
            answer_where_asked()
            start = time.perf_counter()
            pdf = pdf_from_parts(htmls, page_rule=page_rule)
            size = len(pdf) if pdf.startswith(b"%PDF") else 0
            send.send((time.perf_counter() - start, size))
        except Exception as error:
            send.send(f"{error!r}")

    fork = multiprocessing.get_context("fork")
    receive, send = fork.Pipe(duplex=False)
    child = fork.Process(target=work, args=(send,), daemon=True)
    child.start()
    send.close()  # the child's copy is the only writer left: its end ends the read
    try:
        if not receive.poll(CHILD_TIMEOUT_SECONDS):
            if child.pid:
                ask_where([child.pid])
            raise RuntimeError(f"the PDF child gave no answer in {CHILD_TIMEOUT_SECONDS} s")
        try:
            answer = receive.recv()
        except EOFError:
            child.join(5)
            raise RuntimeError(
                f"the PDF child ended without an answer (exit code {child.exitcode})"
            ) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    if isinstance(answer, str):
        raise RuntimeError(f"the PDF child failed: {answer}")
    seconds, size = answer
    if not size:
        raise RuntimeError("the child did not produce a PDF")
    return float(seconds), int(size)


def bench_publicity_pdf(context: Context) -> list[Figure]:
    """Render the publicity notice of a 1,000-row batch (target: under 5 s), beside
    WeasyPrint rendering a bare 1,000-row table of the same cells."""
    from datetime import timedelta

    from django.utils import timezone

    from flows.models import AwardNotice, NoticeItem, NoticeStatus, Summary, SummaryItem
    from flows.publicity_views import PUBLICITY_PAGE, publicity_notice_parts

    leader, workers, rule = _setup(context, members=min(200, max(20, context.scale.batch // 50)))
    names = {w.pk: w.name for w in workers}
    day = context.last_month.replace(day=20)
    notice = AwardNotice.objects.create(
        organisation=context.organisation, issuer=leader, status=NoticeStatus.APPROVED
    )
    sources = NoticeItem.objects.bulk_create(
        NoticeItem(
            notice=notice,
            member=workers[n % len(workers)],
            rule_item=rule,
            points=rule.points_min,
            event_date=day,
            description=f"基准公示第{n}行：按时完成任务，质量合格",
            pool_month=day.replace(day=1),
        )
        for n in range(PDF_ROWS)
    )
    now = timezone.now()
    summary = Summary.objects.create(
        organisation=context.organisation,
        scope=workers[0].unit,
        period_start=day.replace(day=1),
        period_end=day,
        status="publicity",
        created_by=leader.user,  # type: ignore[misc]
        published_at=now,
        window_ends_at=now + timedelta(days=7),
    )
    SummaryItem.objects.bulk_create(
        SummaryItem(
            summary=summary,
            notice_item=source,
            member_id=source.member_id,
            rule_item=rule,
            quantity=1,
            points=source.points,
            amount=source.points,
            event_date=day,
            description=source.description,
        )
        for source in sources
    )
    # WeasyPrint holds the whole laid-out document in memory (about 150 MB for 1,000
    # rows): the PDF is made in a forked child, as a web worker would, so the peak-memory
    # figure stays the ledger's. The page's data is read here, in the parent.
    start = time.perf_counter()
    htmls = publicity_notice_parts(summary=summary)
    ours = time.perf_counter() - start
    rows = "".join(
        f"<tr><td>{names[s.member_id]}</td><td>{rule.name}</td><td>{s.description}</td>"
        f"<td>{day}</td><td>{s.points}</td></tr>"
        for s in sources
    )
    seconds, size = _in_child(htmls, PUBLICITY_PAGE)
    ours += seconds
    bare, _size = _in_child([f"<table>{rows}</table>"])
    context.log(f"publicity PDF: {PDF_ROWS} rows in {len(htmls)} parts, {size // 1024} KB")
    return [
        Figure(
            f"publicity PDF of {PDF_ROWS} rows",
            ours * 1000,
            bare * 1000,
            "ms",
            "< 5,000 ms (baseline: one WeasyPrint layout of a bare table of the same cells;"
            " ours lays out a part per core)",
        )
    ]
