"""Idempotency under concurrent repeats: the same create sent at once from many threads
(a client retrying a timed-out request while the first is still running) makes one job
and one reservation. Runs on each database the suite runs on (SQLite, then PostgreSQL
in CI's second pass), where it matters most."""

from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection

from generations.models import EntryKind, Generation, IdempotencyKey, LedgerEntry
from tests.api_client import T2V, Api, token_for

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


@pytest.mark.django_db
def test_a_key_over_the_limit_is_refused_never_cut_short(keyed) -> None:
    """Keys were cut to 120 characters: two different long keys returned the same job."""
    api = Api(token_for(keyed, "member"))
    long_a, long_b = "k" * 120 + "-a", "k" * 120 + "-b"
    for key in (long_a, long_b, "", "tab\there", "ключ"):
        answer = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": key})
        assert answer.status_code == 400, (key, answer.status_code)
        assert "Idempotency-Key" in answer.json()["detail"]
    assert not Generation.objects.exists()
    exact = "k" * 120
    assert api.post("/api/v1/generations", T2V, **{"Idempotency-Key": exact}).status_code == 201


@pytest.mark.django_db
def test_every_write_that_can_cost_money_honours_the_key(keyed) -> None:
    """Retry, Regenerate, Extend and Make final made a charged job on every repeat."""
    from tests.pipeline import make_job, mark_ready

    api = Api(token_for(keyed, "member"))
    failed = make_job(keyed.team)
    failed.status = "failed"
    failed.save(update_fields=["status"])
    ready = mark_ready(make_job(keyed.team))
    for path in (
        f"/api/v1/generations/{failed.pk}/retry",
        f"/api/v1/generations/{ready.pk}/regenerate",
    ):
        before = Generation.objects.count()
        first = api.post(path, {}, **{"Idempotency-Key": f"once:{path}"})
        again = api.post(path, {}, **{"Idempotency-Key": f"once:{path}"})
        assert (first.status_code, again.status_code) == (201, 200), path
        assert first.json()["id"] == again.json()["id"]
        assert again["Idempotent-Replayed"] == "true"
        assert Generation.objects.count() == before + 1
    openai = {"model": "t2v_720p", "prompt": "a kite", "duration": 5}
    first = api.post("/v1/video/generations", openai, **{"Idempotency-Key": "oa-1"})
    again = api.post("/v1/video/generations", openai, **{"Idempotency-Key": "oa-1"})
    assert first.json()["id"] == again.json()["id"] and again.status_code == 200


def test_the_schema_marks_every_write_that_makes_something_idempotent() -> None:
    """One place: an operation answering 201 (a new job, a new link) must be declared
    idempotent, and the job-making ones are all there."""
    from generations.api.v1 import api

    schema = json.loads(json.dumps(api.get_openapi_schema()))  # as served: string keys
    declared = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "201" in operation.get("responses", {}):
                assert operation.get("x-idempotent") is True, (method, path)
                declared.add(path)
    assert {
        "/api/v1/generations",
        "/api/v1/generations/upload",
        "/api/v1/generations/{generation_id}/retry",
        "/api/v1/generations/{generation_id}/regenerate",
        "/api/v1/generations/{generation_id}/extend",
        "/api/v1/generations/{generation_id}/final",
        "/api/v1/shares",
    } <= declared
