"""The gallery's totals from GalleryTotal rows instead of scanning every job.

`record_created` and `record_finished` run inside the transaction that creates or ends
a job; `totals` answers the gallery's filters from the rows (None when a filter needs
the jobs themselves: prompt text, or an in-flight status); `rebuild` recomputes a
team's rows from its jobs (after bulk imports, or to check them).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from generations.models import GalleryTotal, Generation, Outcome, Status, Team

TERMINAL_OUTCOMES = {
    Status.READY: Outcome.READY,
    Status.FAILED: Outcome.FAILED,
    Status.CANCELLED: Outcome.CANCELLED,
}


def _key(generation: Generation, outcome: str) -> dict[str, Any]:
    return {
        "team_id": generation.team_id,
        "day": timezone.localdate(generation.created_at),
        "mode": generation.mode,
        "author_id": generation.created_by_id or 0,
        "outcome": outcome,
    }


def _add(key: dict[str, Any], count: int, seconds: int = 0, cost: Decimal = Decimal("0")) -> None:
    change = {
        "count": F("count") + count,
        "seconds": F("seconds") + seconds,
        "cost_cny": F("cost_cny") + cost,
    }
    if GalleryTotal.objects.filter(**key).update(**change):
        return
    try:
        with transaction.atomic():
            GalleryTotal.objects.create(**key, count=count, seconds=seconds, cost_cny=cost)
    except IntegrityError:  # another transaction created the row first
        GalleryTotal.objects.filter(**key).update(**change)


def record_created(generation: Generation) -> None:
    _add(_key(generation, Outcome.ACTIVE), 1)


def record_finished(generation: Generation, status: str) -> None:
    outcome = TERMINAL_OUTCOMES[Status(status)]
    _add(_key(generation, Outcome.ACTIVE), -1)
    if outcome == Outcome.READY:
        _add(_key(generation, outcome), 1, generation.seconds, generation.cost_cny)
    else:
        _add(_key(generation, outcome), 1)


def record_deleted(generation: Generation) -> None:
    """A finished job left the gallery: it no longer counts there (the ledger keeps
    what it cost)."""
    outcome = TERMINAL_OUTCOMES[Status(generation.status)]
    if outcome == Outcome.READY:
        _add(_key(generation, outcome), -1, -generation.seconds, -generation.cost_cny)
    else:
        _add(_key(generation, outcome), -1)


def totals(
    team: Team,
    *,
    mode: str = "",
    author: str = "",
    since: date | None = None,
    until: date | None = None,
    status: str = "",
) -> dict[str, Any] | None:
    rows = GalleryTotal.objects.filter(team=team)
    if status:
        if status not in TERMINAL_OUTCOMES:
            return None
        rows = rows.filter(outcome=TERMINAL_OUTCOMES[Status(status)])
    if mode:
        rows = rows.filter(mode=mode)
    if author:
        rows = rows.filter(author_id=int(author))
    if since:
        rows = rows.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lte=until)
    ready = Q(outcome=Outcome.READY)
    sums = rows.aggregate(
        count=Sum("count"), seconds=Sum("seconds", filter=ready), cost=Sum("cost_cny", filter=ready)
    )
    return {
        "count": sums["count"] or 0,
        "seconds": sums["seconds"] or 0,
        "cost": sums["cost"] or Decimal("0"),
    }


@transaction.atomic
def rebuild(team: Team) -> None:
    GalleryTotal.objects.filter(team=team).delete()
    outcome_of = {status.value: outcome.value for status, outcome in TERMINAL_OUTCOMES.items()}
    rows: dict[tuple[Any, ...], GalleryTotal] = {}
    grouped = (
        Generation.objects.for_team(team)
        .values("created_at__date", "mode", "created_by_id", "status")
        .annotate(count=Count("pk"), seconds=Sum("seconds"), cost=Sum("cost_cny"))
    )
    for group in grouped.iterator():
        outcome = outcome_of.get(group["status"], Outcome.ACTIVE.value)
        key = (group["created_at__date"], group["mode"], group["created_by_id"] or 0, outcome)
        total = rows.setdefault(
            key, GalleryTotal(team=team, day=key[0], mode=key[1], author_id=key[2], outcome=outcome)
        )
        total.count += group["count"]
        if outcome == Outcome.READY:
            total.seconds += group["seconds"] or 0
            total.cost_cny += group["cost"] or Decimal("0")
    GalleryTotal.objects.bulk_create(rows.values(), batch_size=1000)
