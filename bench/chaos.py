"""`make chaos`: jobs keep arriving while the worker is SIGKILLed and restarted, the
emulator's connections are dropped (its process killed and restarted) and the database
goes away for a few seconds. Then an audit: every job terminal, exactly one upstream
submit per submitted job, the ledger balanced per job, no orphaned media, nothing stuck.

    python bench/chaos.py --rounds 50        (BENCH_STACK=pg for PostgreSQL + Redis)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import Stack

WORKER_ENV = {
    "Q_WORKERS": "3",
    "Q_TIMEOUT": "30",
    "Q_RETRY": "40",
    "Q_POLL": "0.1",
    "DISPATCH_SLICE_SECONDS": "10",
    "DISPATCH_LEASE_SECONDS": "3",
    "ARCHIVE_LEASE_SECONDS": "10",
    "POLL_EXPECTED_SECONDS": "3",
    "POLL_MIN_INTERVAL": "0.5",
    "POLL_MAX_INTERVAL": "3",
    "JIMENG_QUERY_TIMEOUT": "2",
    "JIMENG_SUBMIT_TIMEOUT": "10",
    "JIMENG_DOWNLOAD_TIMEOUT": "10",
    "SUBMIT_LEASE_SECONDS": "40",
    "UPSTREAM_QPS": "30",
    "PIPELINE_DB_RETRY_SECONDS": "60",
}
EMULATOR_ENV = {
    "SANDBOX_GENERATION_SECONDS": "2",
    "SANDBOX_GENERATION_SECONDS_MAX": "6",
    "SANDBOX_QPS": "40",
    "SANDBOX_FAULT_50429": "0.05",
    "SANDBOX_FAULT_50500": "0.05",
    "SANDBOX_FAULT_DROP": "0.03",
    "SANDBOX_FAULT_ACTIONS": "query",
}
MODES = ["t2v_720p", "t2v_720p", "t2v_1080p", "i2v_first_720p", "s20_t2v"]


class Chaos:
    def __init__(self, stack: Stack, seed: int) -> None:
        self.stack = stack
        self.random = random.Random(seed)
        self.worker = stack.start_worker(**WORKER_ENV)
        self.emulator = stack.start_emulator(**EMULATOR_ENV)
        self.events: Counter[str] = Counter()

    def kill_worker(self) -> None:
        self.worker.kill()
        self.events["worker SIGKILLed"] += 1
        time.sleep(self.random.uniform(0.3, 2.0))
        self.worker = self.stack.start_worker(**WORKER_ENV)

    def drop_emulator(self) -> None:
        self.emulator.kill()  # every open connection to it breaks
        self.events["emulator connections dropped"] += 1
        time.sleep(self.random.uniform(0.3, 1.5))
        self.emulator = self.stack.start_emulator(**EMULATOR_ENV)

    def database_down(self) -> None:
        self.stack.database_outage(self.random.uniform(2.0, 4.0))
        self.events["database outages"] += 1

    def keep_worker_alive(self) -> None:
        """A supervisor (systemd, Kubernetes) restarts a worker that exits on its own."""
        if not self.worker.alive:
            self.events["worker restarted after it exited"] += 1
            self.worker = self.stack.start_worker(**WORKER_ENV)

    def round(self, number: int, jobs_per_round: int) -> None:
        creator = threading.Thread(target=self.create_jobs, args=(number, jobs_per_round))
        creator.start()
        actions = [self.kill_worker, self.drop_emulator, self.database_down]
        self.random.shuffle(actions)
        for action in actions:
            time.sleep(self.random.uniform(0.2, 2.0))
            action()
        creator.join()
        self.keep_worker_alive()

    def create_jobs(self, number: int, count: int) -> None:
        from django.db import DatabaseError, close_old_connections

        for index in range(count):
            prompt = f"chaos round {number} job {index}: a heron over rice fields"
            for _attempt in range(30):
                try:
                    close_old_connections()
                    _create(prompt, MODES[(number + index) % len(MODES)])
                    break
                except DatabaseError:
                    time.sleep(0.5)  # the database is away; the job is not lost, try again
            self.events["jobs created"] += 1


def _create(prompt: str, mode: str) -> None:
    from generations.jimeng import catalog
    from generations.jimeng.images import fit_image
    from generations.jimeng.payload import GenerationInput
    from generations.models import Generation, Team
    from generations.services import jobs
    from generations.services.frames import Frame

    if Generation.objects.filter(prompt=prompt).exists():  # created before an error hid it
        return
    chosen = catalog.get_mode(mode)
    frames = []
    if chosen.min_images:
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (1280, 720), (40, 90, 160)).save(buffer, "JPEG")
        data = buffer.getvalue()
        fitted = fit_image(data)
        frames = [
            Frame(
                0,
                lambda: io.BytesIO(data),
                "frame.jpg",
                "jpg",
                fitted.data,
                fitted.extension,
                fitted.width,
                fitted.height,
                fitted.aspect_ratio,
            )
        ]
    request = GenerationInput(
        prompt=prompt,
        seconds=5,
        images_base64=tuple("…" for _ in frames),
        image_ratios=tuple(f.aspect_ratio for f in frames),
    )
    jobs.start_generation(
        team=Team.objects.get(slug="chaos"), user=None, mode=chosen, request=request, frames=frames
    )


def wait_until_settled(chaos: Chaos, timeout: float) -> float:
    from django.db import DatabaseError, close_old_connections

    from generations.models import ACTIVE, Generation

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        chaos.keep_worker_alive()
        try:
            close_old_connections()
            if not Generation.objects.filter(status__in=ACTIVE).exists():
                return time.monotonic() - start
        except DatabaseError:
            pass
        time.sleep(1.0)
    return time.monotonic() - start


def audit(stack: Stack) -> list[tuple[str, bool, str]]:
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.db.models import Count

    from generations.models import (
        ACTIVE,
        EntryKind,
        Generation,
        GenerationImage,
        JoinedVideo,
        LedgerEntry,
        Status,
    )
    from sandbox.store import Store

    jobs = list(Generation.objects.all())
    checks: list[tuple[str, bool, str]] = []
    active = [job.pk for job in jobs if job.status in ACTIVE]
    checks.append(
        (
            "every job in a terminal state",
            not active,
            f"{len(jobs)} jobs; not finished: {active[:10]}" if active else f"{len(jobs)} jobs",
        )
    )

    tasks = Store(Path(settings.SANDBOX_DIR)).tasks()
    by_prompt = Counter(task.prompt for task in tasks)
    by_id = {task.id for task in tasks}
    submitted = [job for job in jobs if job.upstream_task_id]
    twice = [job.pk for job in jobs if by_prompt[job.prompt] > 1]
    missing = [job.pk for job in submitted if job.upstream_task_id not in by_id]
    unknown = [job for job in jobs if job.failure_code == "submit_unknown"]
    orphan_tasks = [task for task in tasks if task.prompt not in {job.prompt for job in submitted}]
    ok = not twice and not missing and len(orphan_tasks) <= len(unknown)
    checks.append(
        (
            "exactly one upstream submit per submitted job",
            ok,
            f"{len(submitted)} submitted, {len(tasks)} upstream tasks, sent twice: {twice}, "
            f"missing upstream: {missing}, {len(orphan_tasks)} upstream tasks from "
            f"{len(unknown)} submits of unknown outcome",
        )
    )

    entries: dict[int, Counter[str]] = {}
    amounts: dict[int, dict[str, object]] = {}
    for entry in LedgerEntry.objects.filter(generation__isnull=False):
        entries.setdefault(entry.generation_id, Counter())[entry.kind] += 1
        # A settlement at what was billed names the reservation it closes.
        closes = entry.reserved_cny if entry.reserved_cny is not None else entry.amount_cny
        amounts.setdefault(entry.generation_id, {})[entry.kind] = closes
    unbalanced = []
    for job in jobs:
        kinds, money = entries.get(job.pk, Counter()), amounts.get(job.pk, {})
        closed = money.get(EntryKind.SETTLE, money.get(EntryKind.RELEASE))
        expected_kind = EntryKind.SETTLE if job.status == Status.READY else EntryKind.RELEASE
        if kinds != Counter({EntryKind.RESERVE: 1, expected_kind: 1}) or closed != money.get(
            EntryKind.RESERVE
        ):
            unbalanced.append(job.pk)
    checks.append(
        (
            "ledger balanced: reserved = settled + released, per job",
            not unbalanced,
            f"unbalanced: {unbalanced[:10]}" if unbalanced else f"{len(jobs)} jobs balanced",
        )
    )

    referenced = set()
    for job in jobs:
        referenced |= {job.video.name, job.poster.name, job.last_frame.name} - {""}
    for image in GenerationImage.objects.all():
        referenced |= {image.original.name, image.fitted.name}
    # Chains joined into one MP4 are media too (docs/joining.md).
    referenced |= set(JoinedVideo.objects.exclude(file="").values_list("file", flat=True))
    stored = _all_files(default_storage)
    orphans = sorted(stored - referenced)
    # A ready job has its video and poster; its last frame only once it was extended
    # (cut on first use: docs/pipeline.md).
    lost = sorted(
        f"#{job.pk} {kind}: {name or 'none'}"
        for job in jobs
        if job.status == Status.READY
        for kind, name in (
            ("video", job.video.name),
            ("poster", job.poster.name),
            ("last frame", job.last_frame.name or None),
        )
        if name is not None and name not in stored
    )
    checks.append(
        (
            "no orphaned media files",
            not orphans and not lost,
            f"{len(stored)} files; orphans: {orphans[:5]}; missing: {lost[:5]}",
        )
    )

    stuck = Generation.objects.filter(status__in=ACTIVE).values("status").annotate(n=Count("pk"))
    checks.append(("no job stuck", not stuck, str(list(stuck)) if stuck else "none"))
    return checks


def _all_files(storage, path: str = "") -> set[str]:  # type: ignore[no-untyped-def]
    if path and not storage.exists(path):
        return set()
    directories, files = storage.listdir(path)
    found = {f"{path}/{name}".lstrip("/") for name in files}
    for directory in directories:
        found |= _all_files(storage, f"{path}/{directory}".lstrip("/"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--jobs-per-round", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", "7")))
    args = parser.parse_args()
    pg = os.environ.get("BENCH_STACK", "") == "pg"
    stack = Stack("chaos", pg=pg)
    if not pg:
        stack.env["DATABASE_URL"] = f"sqlite:///{stack.root / 'db.sqlite3'}?timeout=2"
    stack.manage("migrate", "--noinput")
    stack.django()
    stack.emulator_team("chaos")

    started = time.monotonic()
    chaos = Chaos(stack, args.seed)
    try:
        for number in range(args.rounds):
            chaos.round(number, args.jobs_per_round)
            print(f"round {number + 1}/{args.rounds}: {dict(chaos.events)}", flush=True)
        settle = wait_until_settled(chaos, timeout=180)
        checks = audit(stack)
    finally:
        stack.stop()
    _print(checks, chaos, args, time.monotonic() - started, settle, stack)
    return 0 if all(ok for _, ok, _ in checks) else 1


def _print(checks, chaos: Chaos, args, elapsed: float, settle: float, stack: Stack) -> None:  # type: ignore[no-untyped-def]
    from django.db.models import Count

    from generations.models import Generation

    outcomes = {
        row["status"] + (f" ({row['failure_code']})" if row["failure_code"] else ""): row["n"]
        for row in Generation.objects.values("status", "failure_code").annotate(n=Count("pk"))
    }
    print(
        f"\nChaos audit — {args.rounds} rounds, "
        f"{'PostgreSQL + Redis' if stack.pg else 'SQLite + ORM broker'}, "
        f"seed {args.seed}, {elapsed:.0f} s ({settle:.0f} s to settle after the last round)"
    )
    for name, count in sorted(chaos.events.items()):
        print(f"  {name:<34} {count}")
    print(f"  {'outcomes':<34} {outcomes}")
    width = max(len(name) for name, _, _ in checks)
    print(f"\n  {'check':<{width}}  result  detail")
    for name, ok, detail in checks:
        print(f"  {name:<{width}}  {'PASS' if ok else 'FAIL':<6}  {detail}")


if __name__ == "__main__":
    sys.exit(main())
