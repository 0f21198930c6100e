"""The gallery and the status endpoint do work that follows the page, not the team: with
100× the jobs, the database reads about as much. Measured without a clock, so it holds
on a busy machine: SQLite counts its virtual machine's steps, PostgreSQL the rows it
read from the jobs table (pg_stat_xact_user_tables, this transaction's own counters)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from generations.models import Generation, Status, Tag
from generations.services import gallery_totals
from tests.api_client import token_for
from tests.cast import Cast

SMALL, LARGE = 200, 20_000
MODES = ("t2v_720p", "t2v_1080p", "i2v_first_720p", "ti2v_pro")


def _add_jobs(cast: Cast, start: int, count: int) -> None:
    """Jobs as a busy team has them: most ready, a tenth failed, some made as variants of
    one submit, some extending an earlier video."""
    rng = random.Random(start)
    now = timezone.now()
    rows = []
    for index in range(start, start + count):
        ready = rng.random() < 0.9
        created = now - timedelta(minutes=index)
        rows.append(
            Generation(
                team=cast.team,
                created_by=cast.member,
                mode=rng.choice(MODES),
                req_key="jimeng_t2v_v30",
                prompt=f"job {index}: lanterns over the river",
                seconds=5,
                price_cny_per_second=Decimal("0.600"),
                cost_cny=Decimal("3.00"),
                status=Status.READY if ready else Status.FAILED,
                batch=f"b{index // 3}" if index % 10 < 3 else "",
                created_at=created,
                finished_at=created + timedelta(minutes=1),
                deadline_at=created,
                video=f"videos/{cast.team.pk}/{index}.mp4" if ready else "",
                poster=f"posters/{cast.team.pk}/{index}.jpg" if ready else "",
            )
        )
    Generation.objects.bulk_create(rows, batch_size=2000)
    made = list(Generation.objects.filter(team=cast.team).order_by("-pk")[:count:7])
    for parent, child in zip(made[::2], made[1::2], strict=False):
        child.extends = parent
    Generation.objects.bulk_update(made[1::2], ["extends"], batch_size=2000)
    gallery_totals.rebuild(cast.team)  # bulk inserts bypass the pipeline's counters
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # what autovacuum (PostgreSQL) does after a bulk load


@contextmanager
def _database_work() -> Iterator[dict[str, int]]:
    """How much the database worked inside the block, by statement (filled in after it;
    a statement's rows are fetched before the next one starts, so its steps are its own)."""
    connection.ensure_connection()
    work: dict[str, int] = {}
    if connection.vendor == "sqlite":
        current = [""]

        def step() -> int:
            work[current[0]] = work.get(current[0], 0) + 1
            return 0  # 0: carry on

        def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
            current[0] = sql
            return execute(sql, params, many, context)

        raw = connection.connection
        raw.set_progress_handler(step, 100)
        try:
            with connection.execute_wrapper(note):
                yield work
        finally:
            raw.set_progress_handler(None, 0)
        return
    raw = connection.connection  # psycopg's own: reading the counters is not measured

    def rows_read() -> int:
        answer = raw.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'generations_generation'"
        ).fetchone()
        return int(answer[0]) if answer else 0

    def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        before = rows_read()
        try:
            return execute(sql, params, many, context)  # psycopg fetches the rows here
        finally:
            work[sql] = work.get(sql, 0) + rows_read() - before

    with connection.execute_wrapper(note):
        yield work


def _work(client: Client, url: str, **headers: str) -> dict[str, int]:
    assert client.get(url, headers=headers).status_code == 200  # warm: sessions, caches
    with _database_work() as work:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return work


def _pages(cast: Cast) -> dict[str, str]:
    slug = cast.team.slug
    jobs = Generation.objects.filter(team=cast.team)
    ids = ",".join(str(pk) for pk in jobs.values_list("pk", flat=True)[:24])
    tag = Tag.objects.get_or_create(team=cast.team, name="river")[0]
    tag.generations.add(*Generation.objects.filter(team=cast.team)[:5])
    return {
        "gallery": f"/t/{slug}/gallery/",
        "gallery, second page": f"/t/{slug}/gallery/?page=2",
        "gallery by mode": f"/t/{slug}/gallery/?mode=t2v_720p",
        "status": f"/t/{slug}/jobs/status?ids={ids}",
        "api list": "/api/v1/generations",
    }


def _measure(cast: Cast, token: str) -> dict[str, dict[str, int]]:
    client = cast.client("member")
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        name: _work(client, url, **(bearer if url.startswith("/api/") else {}))
        for name, url in _pages(cast).items()
    }


@pytest.mark.slow
def test_gallery_status_and_api_work_does_not_grow_with_the_team(cast: Cast) -> None:
    token = token_for(cast, "member")
    _add_jobs(cast, 0, SMALL)
    small = _measure(cast, token)
    _add_jobs(cast, SMALL, LARGE - SMALL)
    large = _measure(cast, token)
    grown = {}
    for name in small:
        before, after = sum(small[name].values()), sum(large[name].values())
        if after > 1.5 * before + 50:
            heaviest = max(large[name], key=large[name].__getitem__)
            where = heaviest[heaviest.find(" FROM ") :][:700]
            grown[name] = f"{after / max(1, before):.1f}×, most in: …{where}"
    assert not grown, f"work grew with the team ({LARGE:,} jobs / {SMALL}): {grown}"


def _plan(sql: str, params) -> str:  # type: ignore[no-untyped-def]
    explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(explain + sql, params)
        return "\n".join(" ".join(str(cell) for cell in row) for row in cursor.fetchall())


@pytest.mark.slow
def test_the_gallery_pages_are_read_in_order_from_an_index(cast: Cast) -> None:
    """Each gallery page (all, by mode, by author, by state) walks an index in the page's
    own order, (-created_at, -id): no sort, so no reading the team's jobs first. Whether
    a planner would sort depends on its statistics (SQLite scanned 100,000 jobs of a team
    that holds them all, bench/README.md); an index that gives the whole order makes the
    answer the same for every statistic."""
    _add_jobs(cast, 0, 3000)
    client = cast.client("member")
    slug = cast.team.slug
    sorts = {}
    statements: list[tuple[str, object]] = []

    def keep(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append((sql, params))
        return execute(sql, params, many, context)

    for query in ("", "?mode=t2v_720p", f"?author={cast.member.pk}", "?status=ready"):
        statements.clear()
        with connection.execute_wrapper(keep):
            assert client.get(f"/t/{slug}/gallery/{query}").status_code == 200
        sql, params = max(
            (s for s in statements if 'FROM "generations_generation"' in s[0] and "LIMIT" in s[0]),
            key=lambda s: len(s[0]),
        )
        plan = _plan(sql, params)
        if "TEMP B-TREE FOR" in plan or "Sort" in plan:
            sorts[query or "all"] = plan
    assert not sorts, f"the gallery sorts the team's jobs: {sorts}"
