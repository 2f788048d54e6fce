import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand
from django.test.utils import override_settings

from points.bench import Scale, bench_run
from points.models import Organisation
from points.periods import organisation_today


def _format(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


class Command(BaseCommand):
    help = (
        "Generate a synthetic organisation on the configured database and print our figures "
        "beside raw-SQL baselines from the same run."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--members", type=int, default=2000)
        parser.add_argument("--entries", type=int, default=100_000)
        parser.add_argument("--months", type=int, default=24)
        parser.add_argument("--batch", type=int, default=10_000, help="items in the posting batch")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        scale = Scale(options["members"], options["entries"], options["months"], options["batch"])
        as_json = options["json"]

        def log(message: str) -> None:
            if not as_json:
                self.stdout.write(message)
            else:
                self.stderr.write(message)

        today = organisation_today(Organisation(timezone="Asia/Shanghai"))
        # As in production: with DEBUG on, Django would log every query of the run.
        with override_settings(DEBUG=False):
            figures = bench_run(scale, log, date.fromordinal(today.toordinal()))
        if as_json:
            self.stdout.write(json.dumps([f.as_dict() for f in figures], ensure_ascii=False))
            return
        self.stdout.write("")
        header = f"{'figure':<58} {'ours':>12} {'baseline':>12} {'ratio':>8}  unit  (target)"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for f in figures:
            ratio = "—" if f.ratio is None else f"{f.ratio:.3g}"
            self.stdout.write(
                f"{f.name:<58} {_format(f.ours):>12} {_format(f.baseline):>12} {ratio:>8}  "
                f"{f.unit}  ({f.target})"
            )
