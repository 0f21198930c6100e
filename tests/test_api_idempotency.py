"""Idempotency under concurrent repeats: the same create sent at once from many threads
(a client retrying a timed-out request while the first is still running) makes one job
and one reservation. Runs on each database the suite runs on (SQLite, then PostgreSQL
in CI's second pass), where it matters most."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from generations.models import EntryKind, Generation, IdempotencyKey, LedgerEntry
from tests.api import T2V, Api, token_for

REPEATS = 12


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_make_one_job(keyed) -> None:
    token = token_for(keyed, "member")
    start = threading.Barrier(REPEATS)
    answers: list[tuple[int, int | None]] = []
    lock = threading.Lock()

    def repeat() -> None:
        api = Api(token)
        start.wait()
        try:
            answer = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": "nightly-7"})
            body = answer.json()
            outcome = (answer.status_code, body.get("id"))
        finally:
            connection.close()
        with lock:
            answers.append(outcome)

    threads = [threading.Thread(target=repeat) for _ in range(REPEATS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    print(f"\n{connection.vendor}: {sorted(answers)}")
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (REPEATS - 1) + [201], answers
    assert len({job_id for _, job_id in answers}) == 1
    assert Generation.objects.count() == 1
    reserves = LedgerEntry.objects.filter(kind=EntryKind.RESERVE)
    assert reserves.count() == 1 and reserves.get().amount_cny == Decimal("3.00")
    assert IdempotencyKey.objects.get().generation_id == answers[0][1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_different_keys_make_different_jobs(keyed) -> None:
    token = token_for(keyed, "member")
    start = threading.Barrier(6)
    ids: list[int] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        api = Api(token)
        start.wait()
        try:
            answer = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": f"key-{n}"})
            job_id = answer.json()["id"]
        finally:
            connection.close()
        with lock:
            ids.append(job_id)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 6 == Generation.objects.count()
