from typing import Any

from django.core.management.base import BaseCommand, CommandError

from points.models import Organisation
from points.periods import parse_month
from points.services.prizes import prizes_award_closed_months, prizes_award_for_month_close


class Command(BaseCommand):
    help = (
        "Award the prize tables of closed months (idempotent): one month with --month, or "
        "every closed month of the last year that has no winners yet."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--month", help="YYYY-MM, a closed month")
        parser.add_argument("--organisation", help="organisation code (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = Organisation.objects.all()
        if options["organisation"]:
            organisations = organisations.filter(code=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"no organisation has the code {options['organisation']!r}")
        month = None
        if options["month"]:
            try:
                month = parse_month(options["month"])
            except ValueError as error:
                raise CommandError(str(error)) from error
        for organisation in organisations:
            if month is None:
                count = prizes_award_closed_months(organisation=organisation)
                self.stdout.write(f"{organisation.code}: {count} prizes awarded")
                continue
            awards = prizes_award_for_month_close(organisation=organisation, month=month)
            self.stdout.write(f"{organisation.code} {month:%Y-%m}: {len(awards)} prizes")
