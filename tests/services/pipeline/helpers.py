"""What the pipeline's tests look at: a job's ledger entries, the media left, the queue."""

from __future__ import annotations

from generations.models import Generation, LedgerEntry


def ledger_kinds(generation: Generation) -> list[str]:
    return list(
        LedgerEntry.objects.filter(generation=generation)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def queued_dispatchers() -> int:
    from django_q.brokers import get_broker

    return get_broker().queue_size()
