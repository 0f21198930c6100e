"""Read-only figures for pages: spend per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from generations.models import EntryKind, LedgerEntry, Team, following_month


@dataclass(frozen=True)
class Day:
    day: date
    cny: Decimal
    height: float  # 0..1 of the tallest day, for the bar chart

    # Geometry in the chart's own units (a 100-high drawing area, 5 below for labels).
    @property
    def bar_height(self) -> int:
        return max(2, round(self.height * 100))

    @property
    def bar_y(self) -> int:
        return 105 - self.bar_height


def spend_by_day(team: Team, period: date) -> list[Day]:
    """Settled CNY per day of the month, every day present (zero when nothing was spent)."""
    rows = (
        LedgerEntry.objects.filter(team=team, period=period, kind=EntryKind.SETTLE)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(cny=Sum("amount_cny"))
    )
    totals = {row["day"]: Decimal(row["cny"]).quantize(Decimal("0.01")) for row in rows}

    days = [period + timedelta(days=n) for n in range((following_month(period) - period).days)]
    tallest = max(totals.values(), default=Decimal("0")) or Decimal("1")
    return [
        Day(d, totals.get(d, Decimal("0")), float(totals.get(d, Decimal("0")) / tallest))
        for d in days
    ]
