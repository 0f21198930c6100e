"""Exports: a zip of 24 ready videos of 8 MB each (192 MB) and the gallery's CSV of
2,000 jobs, downloaded from a real web process (gunicorn, one worker). Reports the
time, the throughput and the web worker's peak RSS increase: the archive is streamed,
so memory must not grow with its size."""

from __future__ import annotations

import os
import time
import zipfile
from decimal import Decimal
from pathlib import Path

from bench.harness import BENCH_PASSWORD, Stack, sign_in, sized
from bench.report import Table
from bench.upload import _gunicorn_worker, _status_kb

VIDEOS, VIDEO_BYTES, CSV_JOBS = sized((24, 8 * 1024 * 1024, 2000), (3, 64 * 1024, 40))


def _jobs(team, user) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from generations.models import Generation, Status, video_path

    now = timezone.now()
    common = {
        "team": team,
        "created_by": user,
        "mode": "t2v_720p",
        "req_key": "jimeng_t2v_v30",
        "seconds": 5,
        "price_cny_per_second": Decimal("0.6"),
        "cost_cny": Decimal("3.00"),
        "deadline_at": now,
    }
    rows = [
        Generation(
            **common,
            prompt=f"=cmd| a lantern festival, take {n}",
            status=Status.READY if n < VIDEOS else Status.FAILED,
            finished_at=now,
        )
        for n in range(CSV_JOBS)
    ]
    Generation.objects.bulk_create(rows, batch_size=500)
    for job in Generation.objects.filter(status=Status.READY):
        name = default_storage.save(video_path(job), ContentFile(os.urandom(VIDEO_BYTES)))
        Generation.objects.filter(pk=job.pk).update(video=name)


def _download(session, url: str, worker: int, target: Path) -> tuple[float, int, float]:  # type: ignore[no-untyped-def]
    session.get(url.rsplit("/", 2)[0] + "/gallery/")  # warm the worker
    Path(f"/proc/{worker}/clear_refs").write_text("5")
    before = _status_kb(worker, "VmRSS")
    started = time.perf_counter()
    size = 0
    with session.get(url, stream=True) as response, target.open("wb") as out:
        assert response.status_code == 200, response.status_code
        for block in response.iter_content(256 * 1024):
            out.write(block)
            size += len(block)
    seconds = time.perf_counter() - started
    return seconds, size, (_status_kb(worker, "VmHWM") - before) / 1024


def run(pg: bool) -> Table:
    stack = Stack("exports", pg=pg)
    user, team = stack.production_site("127.0.0.1")
    _jobs(team, user)
    server, base = stack.start_gunicorn(1)
    session = sign_in(base, "bench", BENCH_PASSWORD)
    worker = _gunicorn_worker(server.popen.pid)
    table = Table(
        "Exports (gunicorn, one worker)",
        ["download", "size", "time", "throughput", "peak RSS increase"],
    )
    archive = stack.root / "videos.zip"
    seconds, zip_size, zip_rss = _download(
        session, f"{base}/t/bench/gallery/videos.zip?status=ready", worker, archive
    )
    with zipfile.ZipFile(archive) as opened:
        videos = [name for name in opened.namelist() if name.endswith(".mp4")]
        assert len(videos) == VIDEOS
        assert opened.testzip() is None
    table.row(
        f"zip of {VIDEOS} videos",
        f"{zip_size / 1e6:.0f} MB",
        f"{seconds:.2f} s",
        f"{zip_size / 1e6 / seconds:.0f} MB/s",
        f"{zip_rss:.0f} MB",
    )
    sheet = stack.root / "gallery.csv"
    seconds, size, csv_rss = _download(session, f"{base}/t/bench/gallery/export.csv", worker, sheet)
    lines = sheet.read_text("utf-8-sig").splitlines()
    assert len(lines) == CSV_JOBS + 1
    assert "'=cmd|" in lines[1]
    table.row(
        f"gallery CSV, {CSV_JOBS} jobs",
        f"{size / 1e6:.1f} MB",
        f"{seconds:.2f} s",
        f"{CSV_JOBS / seconds:.0f} rows/s",
        f"{csv_rss:.0f} MB",
    )
    stack.stop()
    table.note(
        f"The archive is {zip_size / 1e6:.0f} MB, read from storage 256 KB at a time; "
        "the worker's memory does not follow its size."
    )
    table.target("zip download peak RSS increase ≤ 32 MB", zip_rss <= 32, f"{zip_rss:.0f} MB")
    return table
