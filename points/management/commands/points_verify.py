from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.selectors.ledger import ledger_verify


class Command(BaseCommand):
    help = "Recompute every account and period total from the ledger; exit 1 on any difference."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger_verify()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} total(s) differ from the ledger")
        self.stdout.write("ledger verified: every total equals the sum of its entries")
