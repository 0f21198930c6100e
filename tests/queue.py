"""Run what the studio queued for django-q2, as a worker would: taken from the real
broker, unsigned, and called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_q.brokers import get_broker
from django_q.signing import SignedPackage


def queued_tasks() -> list[dict[str, Any]]:
    """Take every queued task off the broker (they are acknowledged: nobody else runs them)."""
    broker = get_broker()
    taken: list[dict[str, Any]] = []
    while True:
        batch = broker.dequeue() or []
        if not batch:
            return taken
        for ack_id, payload in batch:
            broker.acknowledge(ack_id)
            taken.append(SignedPackage.loads(payload))


def run_queued(func: Callable[..., Any]) -> list[Any]:
    """Run the queued tasks of `func` (tasks are queued by function); the others are
    dropped. Their results, in order."""
    return [
        func(*task["args"], **task["kwargs"]) for task in queued_tasks() if task["func"] is func
    ]
