"""Tracker scale: one worker process (one qcluster) carries 1,000 jobs from four teams
through submit, tracking and archiving, with the upstream limited to 10 QPS on both
sides: our token bucket and the emulator's own limit, which refuses with 50429.

Generation takes 120–240 s, longer than submitting 1,000 jobs at 10 QPS can, so all of
them are in flight at once. Prompts differ only in `[sandbox:…]` markers, which the
emulator does not draw, so it renders four videos rather than a thousand and the
machine's CPU goes to the worker being measured.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from datetime import timedelta

from bench.harness import Stack, process_usage, sized
from bench.report import Table

QPS = 10
SLOWER = sized(1, 60)  # smoke: generation takes 2–4 s
# (mode, seconds, shortest, longest generation in seconds)
KINDS = (
    ("t2v_720p", 5, 120 / SLOWER, 180 / SLOWER),
    ("t2v_720p", 10, 150 / SLOWER, 210 / SLOWER),
    ("t2v_1080p", 5, 150 / SLOWER, 210 / SLOWER),
    ("t2v_1080p", 10, 180 / SLOWER, 240 / SLOWER),
)
TEAMS = sized(
    (("big", 600), ("medium", 250), ("small", 100), ("tiny", 50)),
    (("big", 6), ("medium", 3), ("small", 2), ("tiny", 1)),
)
HISTORY_PER_KIND = sized(30, 5)
# What one job may cost the worker, all of it: submit, polls, archive (measured 0.24 s
# before the daily-use features; bench/README.md).
CPU_PER_JOB = 0.3
WORKER = {"UPSTREAM_QPS": str(QPS), "LOG_LEVEL": "WARNING"}


def _seed_history(team, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    """Earlier finished jobs of each kind, as a running studio has, so the schedule
    starts from what it would have learned instead of its cold default."""
    from django.utils import timezone

    from generations.jimeng import catalog
    from generations.jimeng.payload import GenerationInput
    from generations.models import Generation, Status
    from generations.services import jobs

    now = timezone.now()
    for mode, seconds, low, high in KINDS:
        for index in range(HISTORY_PER_KIND):
            request = GenerationInput(prompt=f"history {index}", seconds=seconds)
            job = jobs.start_generation(
                team=team, user=None, mode=catalog.get_mode(mode), request=request, frames=[]
            )
            submitted = now - timedelta(hours=1, minutes=index)
            finished = submitted + timedelta(seconds=rng.uniform(low, high))
            Generation.objects.filter(pk=job.pk).update(
                status=Status.READY,
                submitted_at=submitted,
                upstream_running_at=finished - timedelta(seconds=1),
                upstream_done_at=finished + timedelta(seconds=1),
            )


def _create(teams, rng: random.Random) -> list[int]:  # type: ignore[no-untyped-def]
    """Jobs from every team, created in a shuffled order within the same few seconds."""
    from generations.jimeng import catalog
    from generations.jimeng.payload import GenerationInput
    from generations.services import jobs

    plan = [(team, index) for team, count in teams for index in range(count)]
    rng.shuffle(plan)
    ids = []
    for team, index in plan:
        mode, seconds, low, high = KINDS[index % len(KINDS)]
        took = rng.uniform(low, high)
        request = GenerationInput(
            prompt=f"a lighthouse in fog, kind {index % len(KINDS)} [sandbox:seconds={took:.1f}]"
            f" [sandbox:job={team.slug}-{index}]",
            seconds=seconds,
        )
        job = jobs.start_generation(
            team=team, user=None, mode=catalog.get_mode(mode), request=request, frames=[]
        )
        ids.append(job.pk)
    return ids


class Sampler(threading.Thread):
    """Samples the worker's CPU time and memory every second while it runs: its
    processes may be replaced, and /proc forgets the ones that are gone."""

    def __init__(self, worker) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.worker = worker
        self.cpu: dict[int, float] = {}
        self.peak_each: dict[int, int] = {}
        self.peak_total = 0
        self.running = True

    def run(self) -> None:
        while self.running and self.worker.alive:
            self.sample()
            time.sleep(1)

    def sample(self) -> None:
        total = 0
        for pid in self.worker.pids():
            cpu, peak, _ = process_usage([pid])
            if peak:
                self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)
                self.peak_each[pid] = max(self.peak_each.get(pid, 0), peak)
                total += _rss(pid)
        self.peak_total = max(self.peak_total, total)


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(line for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0
    return int(line.split()[1]) * 1024


def _peak_per_second(times: list[float]) -> int:
    """Most calls within any one-second window."""
    peak, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def _submission_fairness(jobs) -> tuple[int, float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Compare each job's wait to submit with its fair share.

    Fair share is round-robin across the teams with jobs waiting: a team's i-th job
    should go out once every team has had i turns (or run out of jobs), that is as the
    Σ min(i + 1, n_team)-th submit. Its fair wait is when that submit actually went out,
    so the measured throughput is the same on both sides. A job counts as over when it
    waited more than twice its fair wait and by more than a second (the dispatcher
    submits two at a time, so order within a second is noise).
    """
    sizes = Counter(job.team.slug for job in jobs)
    timeline = sorted(job.submitted_at for job in jobs)
    start = min(job.created_at for job in jobs)
    over, worst, median_wait = 0, 0.0, {}
    waits: dict[str, list[float]] = {}
    for slug in sizes:
        mine = sorted((job for job in jobs if job.team.slug == slug), key=lambda job: job.pk)
        for index, job in enumerate(mine):
            rank = sum(min(index + 1, size) for size in sizes.values())
            fair = (timeline[rank - 1] - start).total_seconds()
            actual = (job.submitted_at - start).total_seconds()
            waits.setdefault(slug, []).append(actual)
            if actual > 2 * fair and actual - fair > 1.0:
                over += 1
            worst = max(worst, actual / max(fair, 1.0))
    for slug, values in waits.items():
        median_wait[slug] = statistics.median(values)
    return over, worst, median_wait


def _tracking_fairness(jobs, done_at: dict[str, float], min_interval: float):  # type: ignore[no-untyped-def]
    """Compare how long each finished upstream job waited to be noticed with its fair
    share of the poll budget: with N jobs in flight at QPS calls a second, each is due a
    query every N / QPS seconds (and not more often than the schedule's floor)."""
    flights = sorted(
        (job.submitted_at.timestamp(), job.upstream_done_at.timestamp()) for job in jobs
    )
    over, delays, ratios = 0, [], []
    for job in jobs:
        finished = done_at[job.upstream_task_id]
        in_flight = sum(1 for sent, noticed in flights if sent <= finished < noticed)
        fair = max(in_flight / QPS, min_interval)
        delay = job.upstream_done_at.timestamp() - finished
        delays.append(delay)
        ratios.append(delay / fair)
        if delay > 2 * fair:
            over += 1
    return over, max(ratios), delays


def run(pg: bool) -> Table:
    stack = Stack("tracker", pg=pg)
    stack.manage("migrate", "--noinput")
    stack.django()
    from django.conf import settings

    from generations.models import Generation, Status
    from sandbox.store import Store

    stack.start_emulator(SANDBOX_QPS=str(QPS))
    rng = random.Random(2026)
    teams = []
    for slug, count in TEAMS:
        teams.append((stack.emulator_team(slug), count))
    _seed_history(teams[0][0], rng)

    worker = stack.start_worker(**WORKER)
    sampler = Sampler(worker)
    sampler.start()
    started = time.monotonic()
    ids = _create(teams, rng)  # while the worker runs, as users would
    total = len(ids)
    peak_in_flight = 0
    deadline = started + 1800
    while time.monotonic() < deadline:
        counts = Counter(
            Generation.objects.filter(pk__in=ids).values_list("status", flat=True).iterator()
        )
        in_flight = counts[Status.SUBMITTED] + counts[Status.GENERATING]
        peak_in_flight = max(peak_in_flight, in_flight)
        if counts[Status.READY] + counts[Status.FAILED] + counts[Status.CANCELLED] == total:
            break
        time.sleep(1)
    running = time.monotonic() - started
    sampler.sample()
    sampler.running = False
    worker.stop()
    stack.stop()

    store = Store(settings.SANDBOX_DIR)
    calls = store.calls()
    api = [row for row in calls if row["action"] in ("submit", "query")]
    times = sorted(row["at"] for row in api)
    refused = sum(1 for row in api if row["code"] == 50429)
    jobs = list(Generation.objects.filter(pk__in=ids).select_related("team").order_by("pk"))
    ready = [job for job in jobs if job.status == Status.READY]
    done_at = {task.id: task.done_at for task in store.tasks()}
    submits = Counter(row["action"] for row in api)
    mean_qps = len(times) / (times[-1] - times[0])
    peak_qps = _peak_per_second(times)
    cpu = sum(sampler.cpu.values())
    over_submit, worst_submit, median_wait = _submission_fairness(jobs)
    over_track, worst_track, delays = _tracking_fairness(ready, done_at, settings.POLL_MIN_INTERVAL)

    table = Table(
        f"Tracker scale (1 worker, {total:,} jobs from 4 teams, upstream limit {QPS} QPS, "
        f"generation {KINDS[0][2]:.0f}–{KINDS[-1][3]:.0f} s)",
        ["figure", "value"],
    )
    table.row("jobs ready", f"{len(ready):,} of {total:,}")
    table.row("peak jobs in flight at once", f"{peak_in_flight:,}")
    origin = min(job.created_at for job in jobs).timestamp()
    drained = max(job.finished_at for job in jobs).timestamp() - origin
    upstream_last = max(done_at[job.upstream_task_id] for job in ready) - origin
    table.row(
        "time to drain (first created → last ready)",
        f"{drained:.0f} s (the upstream finished its last task at {upstream_last:.0f} s)",
    )
    table.row(
        "upstream calls",
        f"{submits['submit']:,} submits + {submits['query']:,} queries "
        f"({submits['query'] / total:.2f} queries/job)",
    )
    table.row("QPS peak (any 1 s window) / mean", f"{peak_qps} / {mean_qps:.2f} (limit {QPS})")
    table.row("calls refused by the upstream (50429)", refused)
    table.row(
        "worker CPU (all processes)",
        f"{cpu:.0f} s ({cpu / running:.0%} of one core; {cpu / total:.2f} s per job)",
    )
    table.row(
        "worker peak RSS (all processes together / largest)",
        f"{sampler.peak_total / 2**20:.0f} MB / {max(sampler.peak_each.values()) / 2**20:.0f} MB",
    )
    table.row(
        "median wait to submit by team",
        ", ".join(f"{slug} {wait:.0f} s" for slug, wait in median_wait.items()),
    )
    table.row(
        "jobs submitted later than 2× their fair share",
        f"{over_submit} (worst {worst_submit:.2f}×)",
    )
    table.row(
        "done → noticed p50 / p95 / max",
        f"{statistics.median(delays):.1f} / {statistics.quantiles(delays, n=20)[18]:.1f} / "
        f"{max(delays):.1f} s",
    )
    table.row(
        "jobs noticed later than 2× their fair share of polls",
        f"{over_track} (worst {worst_track:.2f}×)",
    )
    table.target(
        f"never above {QPS} QPS",
        peak_qps <= QPS and refused == 0,
        f"peak {peak_qps}, {refused} refused",
    )
    table.target(
        "no job waited more than 2× its fair share",
        over_submit + over_track == 0,
        f"{over_submit + over_track} jobs",
    )
    table.target(
        f"worker CPU per job ≤ {CPU_PER_JOB} s", cpu / total <= CPU_PER_JOB, f"{cpu / total:.2f} s"
    )
    table.note(
        "QPS is counted where the upstream counts it: at the emulator, on arrival, over "
        "every sliding one-second window."
    )
    table.note(
        "Fair share to submit: round-robin across the teams with jobs waiting, timed on "
        "the measured submit timeline. Fair share of polls: with N jobs in flight when a "
        f"job finished upstream, one query every N / {QPS} s (at least the schedule's "
        "floor, POLL_MIN_INTERVAL)."
    )
    return table
