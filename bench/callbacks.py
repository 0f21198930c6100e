"""Ark callbacks against polling: the same 60 Seedance jobs (generation 5–30 s), once
with callbacks (PUBLIC_BASE_URL set: the first query is only a fallback) and once with
the learned polling schedule alone. Counts the GETs per job and the time from the
upstream's end to the job being ready."""

from __future__ import annotations

import random
import statistics
import time

from bench.harness import Stack, sized
from bench.report import Table

JOBS = sized(60, 3)
WARM_UP = sized(12, 2)
SECONDS = sized((5, 30), (1, 3))  # generation time
WORKER = {
    "Q_WORKERS": "4",
    "UPSTREAM_QPS": "60",
    "DISPATCH_SLOTS": "2",
    "LOG_LEVEL": "WARNING",
    "POLL_EXPECTED_SECONDS": sized("10", "2"),
}


def _create(team, label: str, seconds: list[float]) -> list[int]:  # type: ignore[no-untyped-def]
    from generations.jimeng import catalog
    from generations.jimeng.payload import GenerationInput
    from generations.services import jobs

    mode = catalog.get_mode("seedance_2_0")
    ids = []
    for index, duration in enumerate(seconds):
        prompt = (
            f"a kite over the sea [sandbox:seconds={duration:.2f}] [sandbox:job={label}-{index}]"
        )
        request = GenerationInput(prompt=prompt, seconds=4, resolution="480p")
        job = jobs.start_generation(team=team, user=None, mode=mode, request=request, frames=[])
        ids.append(job.pk)
    return ids


def _wait(ids: list[int], timeout: float) -> None:
    from generations.models import TERMINAL, Generation

    deadline = time.monotonic() + timeout
    while Generation.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("jobs did not finish")
        time.sleep(1)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def run(pg: bool) -> Table:
    stack = Stack("callbacks", pg=pg)
    stack.manage("migrate", "--noinput")
    stack.django()
    from django.conf import settings

    from generations.models import Generation, Status
    from sandbox.store import Store

    stack.start_emulator(SANDBOX_QPS="100")
    team = stack.ark_team("bench")
    store = Store(settings.SANDBOX_DIR)
    rng = random.Random(2026)
    runs = (
        ("callbacks on", {"PUBLIC_BASE_URL": stack.emulator_url}),
        ("callbacks off (polling)", {}),
    )
    table = Table(
        f"Ark callbacks ({JOBS} Seedance jobs, generation {SECONDS[0]}–{SECONDS[1]} s)",
        ["run", "GET/job mean", "max", "done→ready p50", "p95", "max"],
    )
    results = {}
    for label, extra in runs:
        worker = stack.start_worker(name=f"worker-{label.split()[1]}", **WORKER, **extra)
        if not extra:  # polling learns from recent jobs: give it a history
            _wait(_create(team, "warm-up", [rng.uniform(*SECONDS) for _ in range(WARM_UP)]), 600)
        ids = _create(team, label, [rng.uniform(*SECONDS) for _ in range(JOBS)])
        _wait(ids, timeout=900)
        worker.stop()
        gets = [row["subject"] for row in store.calls("query")]
        done_at = {task.id: task.done_at for task in store.tasks()}
        measured = list(Generation.objects.filter(pk__in=ids, status=Status.READY))
        calls = [gets.count(f"query:{job.upstream_task_id}") for job in measured]
        delays = [job.finished_at.timestamp() - done_at[job.upstream_task_id] for job in measured]
        results[label] = (calls, delays)
        table.row(
            label,
            f"{statistics.mean(calls):.2f}",
            f"{max(calls)}",
            f"{statistics.median(delays):.2f} s",
            f"{_p95(delays):.2f} s",
            f"{max(delays):.2f} s",
        )
        if len(measured) != len(ids):
            table.note(f"{label}: {len(ids) - len(measured)} jobs did not end ready")
    calls, delays = results["callbacks on"]
    table.target(
        "with callbacks: GETs per job ≤ 1", max(calls) <= 1, f"mean {statistics.mean(calls):.2f}"
    )
    table.target("with callbacks: done→ready p95 ≤ 2 s", _p95(delays) <= 2, f"{_p95(delays):.2f} s")
    table.note(
        "With callbacks the only GET is the one that confirms the end a callback reported "
        "(callbacks are unsigned, so they are never believed); the first scheduled query "
        "comes CALLBACK_GRACE_SECONDS (60) past the usual time, as a fallback."
    )
    table.note(
        "done→ready runs from the emulator's task finishing (generation and render) to the "
        f"job being ready: callback, GET, download, probe, poster, last frame. Polling learns "
        f"from {WARM_UP} warm-up jobs first."
    )
    stack.stop()
    return table
