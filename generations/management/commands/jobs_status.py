"""`manage.py jobs_status`: the queue at a glance, for operators."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count, Min
from django.utils import timezone
from django_q.brokers import get_broker

from generations.models import ACTIVE, POLLED, Generation, Status, WorkerLease


def snapshot() -> dict[str, Any]:
    now = timezone.now()
    counts = dict(Generation.objects.values_list("status").annotate(n=Count("pk")))
    active = Generation.objects.filter(status__in=ACTIVE)
    oldest = (
        active.order_by("created_at").values("pk", "status", "created_at", "team__slug").first()
    )
    due = Generation.objects.filter(status__in=(Status.QUEUED, *POLLED), next_action_at__lte=now)
    overdue = due.aggregate(first=Min("next_action_at"))["first"]
    try:
        broker_size: int | None = get_broker().queue_size()
    except Exception:
        broker_size = None
    return {
        "counts": {status: counts.get(status, 0) for status in Status.values},
        "in_flight": active.count(),
        "oldest_in_flight": None
        if oldest is None
        else {
            "id": oldest["pk"],
            "team": oldest["team__slug"],
            "status": oldest["status"],
            "age_seconds": round((now - oldest["created_at"]).total_seconds()),
        },
        "poll_backlog": due.count(),
        "most_overdue_seconds": 0 if overdue is None else round((now - overdue).total_seconds(), 1),
        "downloading": counts.get(Status.DOWNLOADING, 0),
        "broker_queue": broker_size,
        "dispatchers": list(
            WorkerLease.objects.filter(
                name__startswith="dispatch:", expires_at__gt=now
            ).values_list("name", flat=True)
        ),
    }


class Command(BaseCommand):
    help = "Counts by state, the oldest job in flight, the poll backlog and the broker queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        data = snapshot()
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        width = max(len(status) for status in data["counts"])
        for status, count in data["counts"].items():
            self.stdout.write(f"{status:<{width}}  {count}")
        oldest = data["oldest_in_flight"]
        oldest_text = "—"
        if oldest is not None:
            age = f"{oldest['age_seconds']} s old"
            oldest_text = f"#{oldest['id']} ({oldest['team']}, {oldest['status']}, {age})"
        broker = data["broker_queue"]
        lines = [
            "",
            f"in flight          {data['in_flight']}",
            f"oldest in flight   {oldest_text}",
            f"poll backlog       {data['poll_backlog']} due now, "
            f"most overdue {data['most_overdue_seconds']} s",
            f"broker queue       {'unreachable' if broker is None else broker}",
            f"dispatchers        {', '.join(data['dispatchers']) or 'none running'}",
        ]
        for line in lines:
            self.stdout.write(line)
