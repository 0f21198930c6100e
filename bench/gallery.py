"""Gallery growth: server time and SQL queries of the gallery page and the job-status
endpoint with 100, 10,000 and 100,000 generations in the team."""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from bench.harness import Stack, sized
from bench.report import Table

SIZES = sized((100, 10_000, 100_000), (20, 200, 400))
REQUESTS = sized(50, 5)
MODES = ("t2v_720p", "t2v_1080p", "i2v_first_720p", "ti2v_pro", "s20_t2v")


def _seed(team, user, start: int, count: int) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from generations.models import Generation, Status

    rng = random.Random(start)
    now = timezone.now()
    batch = []
    for index in range(start, start + count):
        ready = rng.random() < 0.9
        created = now - timedelta(minutes=index)
        batch.append(
            Generation(
                team=team,
                created_by=user,
                mode=rng.choice(MODES),
                req_key="jimeng_t2v_v30",
                prompt=f"job {index}: a lantern festival over the river, drone shot",
                seconds=rng.choice((5, 10)),
                aspect_ratio="16:9",
                seed=index,
                price_cny_per_second=Decimal("0.600"),
                cost_cny=Decimal("3.00"),
                status=Status.READY if ready else Status.FAILED,
                failure_code="" if ready else "50516",
                created_at=created,
                finished_at=created + timedelta(minutes=1),
                deadline_at=created,
                video=f"videos/{team.pk}/{index}.mp4" if ready else "",
                poster=f"posters/{team.pk}/{index}.jpg" if ready else "",
                video_width=1280,
                video_height=720,
                video_duration=5.04,
                upstream_task_id=str(10**12 + index),
            )
        )
        if len(batch) == 5000:
            Generation.objects.bulk_create(batch)
            batch = []
    Generation.objects.bulk_create(batch)
    from generations.services.gallery_totals import rebuild

    rebuild(team)  # bulk inserts bypass the pipeline that keeps the totals
    from django.db import connection

    with connection.cursor() as cursor:
        # Statistics for the planner, as autovacuum (PostgreSQL) would gather within a
        # minute of a bulk load; without them PostgreSQL scans every row of the team.
        cursor.execute("ANALYZE")


def _timed(client, url: str) -> tuple[list[float], int]:  # type: ignore[no-untyped-def]
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches, as a page in use would be
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    query_count = len(queries)  # read now: the log is sliced lazily and reset per request
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    return times, query_count


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def run(pg: bool) -> Table:
    stack = Stack("gallery", pg=pg)
    user, team = stack.production_site("testserver,127.0.0.1")
    from django.test import Client

    from generations.models import Generation

    client = Client()
    client.force_login(user)
    table = Table(
        "Gallery growth (server time over 50 requests, in-process)",
        [
            "generations",
            "gallery p50",
            "gallery p95",
            "gallery queries",
            "status p50",
            "status p95",
            "status queries",
        ],
    )
    figures = {}
    seeded = 0
    for size in SIZES:
        _seed(team, user, seeded, size - seeded)
        seeded = size
        ids = ",".join(
            str(pk) for pk in Generation.objects.filter(team=team).values_list("pk", flat=True)[:24]
        )
        gallery, gallery_queries = _timed(client, "/t/bench/gallery/")
        status, status_queries = _timed(client, f"/t/bench/jobs/status?ids={ids}")
        figures[size] = (gallery, status)
        table.row(
            f"{size:,}",
            f"{statistics.median(gallery):.1f} ms",
            f"{_p95(gallery):.1f} ms",
            gallery_queries,
            f"{statistics.median(status):.1f} ms",
            f"{_p95(status):.1f} ms",
            status_queries,
        )
    small, large = figures[SIZES[0]], figures[SIZES[-1]]
    table.row(
        "100k / 100",
        "",
        f"{_p95(large[0]) / _p95(small[0]):.2f}×",
        "",
        "",
        f"{_p95(large[1]) / _p95(small[1]):.2f}×",
        "",
    )
    table.target("gallery p95 at 100,000 ≤ 60 ms", _p95(large[0]) <= 60, f"{_p95(large[0]):.1f} ms")
    table.target(
        "gallery p95 100,000 / 100 ≤ 1.5",
        _p95(large[0]) / _p95(small[0]) <= 1.5,
        f"{_p95(large[0]) / _p95(small[0]):.2f}",
    )
    stack.stop()
    return table
