"""Exports for finance and for keeping: CSV of the ledger and of the gallery, and zip
archives of videos, all streamed row by row and block by block, never built in memory.

Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a formula, and prompts
are typed by anyone in the team: such text cells are quoted with a leading apostrophe
(the OWASP advice for CSV injection). Numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from generations.labels import mode_label
from generations.models import Generation, LedgerEntry, Status

CHUNK = 256 * 1024  # bytes read from storage at a time into an archive
# What makes a spreadsheet read a cell as a formula (or a DDE call: `|`), including the
# full-width forms East Asian input methods type, which some spreadsheets take as the same.
FORMULA_START = ("=", "+", "-", "@", "|", "\t", "\r", "\n", "＝", "＋", "－", "＠", "｜")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs (leading spaces do not hide it)."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


class _Line:
    """Where csv.writer puts a row: kept until it is handed on."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text


def csv_rows(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text, one line at a time, with a byte-order mark so that spreadsheet
    programs read the Chinese text as UTF-8."""
    line = _Line()
    writer = csv.writer(line)
    yield "\ufeff"
    writer.writerow(header)
    yield line.text
    for row in rows:
        line.text = ""
        writer.writerow([safe_cell(cell) for cell in row])
        yield line.text


LEDGER_HEADER = [
    "at",
    "kind",
    "job",
    "mode",
    "member",
    "amount_cny",
    "seconds",
    "estimated_cny",
    "estimated_seconds",
    "month",
    "reason",
]


def ledger_rows(entries: QuerySet[LedgerEntry]) -> Iterator[list[Any]]:
    listed = entries.select_related("generation", "created_by").order_by("created_at", "pk")
    for entry in listed.iterator(chunk_size=500):
        job = entry.generation
        yield [
            _when(entry.created_at),
            entry.kind,
            job.pk if job else "",
            job.mode if job else "",
            entry.created_by.get_username() if entry.created_by else "",
            entry.amount_cny,
            entry.seconds,
            "" if entry.reserved_cny is None else entry.reserved_cny,
            "" if entry.reserved_seconds is None else entry.reserved_seconds,
            entry.period.strftime("%Y-%m"),
            entry.reason,
        ]


GALLERY_HEADER = [
    "id",
    "created_at",
    "member",
    "mode",
    "mode_name",
    "prompt",
    "status",
    "seconds",
    "aspect_ratio",
    "resolution",
    "seed",
    "width",
    "height",
    "charged_cny",
    "estimated_cny",
    "price_cny_per_second",
    "price_cny_per_million_tokens",
    "tokens_used",
    "finished_at",
]


def gallery_rows(jobs: QuerySet[Generation]) -> Iterator[list[Any]]:
    for job in jobs.select_related("created_by").iterator(chunk_size=500):
        yield [
            job.pk,
            _when(job.created_at),
            job.created_by.get_username() if job.created_by else "",
            job.mode,
            mode_label(job.mode),
            job.prompt,
            job.status,
            job.seconds,
            job.aspect_ratio,
            job.resolution,
            job.known_seed,
            job.video_width or "",
            job.video_height or "",
            "" if job.charged_cny is None else job.charged_cny,
            job.estimate_cny,
            job.price_cny_per_second,
            job.price_cny_per_million_tokens or "",
            job.tokens_used or "",
            _when(job.finished_at),
        ]


# --- zip archives --------------------------------------------------------------------


class _Sink:
    """The archive's output: what zipfile writes is kept until the response takes it.
    It has no tell() or seek(), so zipfile writes a streamable archive (sizes after
    each entry's data, in data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


Entry = tuple[str, Callable[[], IO[bytes]]]


def stream_zip(entries: Iterable[Entry]) -> Iterator[bytes]:
    """A zip archive of `entries` (name, opener), stored without compression (videos
    are compressed already), produced block by block."""
    sink = _Sink()
    now = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, opener in entries:
            info = zipfile.ZipInfo(name, date_time=now)
            info.compress_type = zipfile.ZIP_STORED
            with opener() as source, archive.open(info, "w", force_zip64=True) as target:
                while block := source.read(CHUNK):
                    target.write(block)
                    if data := sink.take():
                        yield data
            if data := sink.take():
                yield data
    yield sink.take()


def _slug(text: str, limit: int = 40) -> str:
    words = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-")
    return words[:limit].strip("-") or "video"


def video_entries(jobs: Iterable[Generation]) -> Iterator[Entry]:
    """Each ready job's MP4, named by its number and prompt, and a videos.csv that
    says what each one is."""
    kept: list[Generation] = []
    for job in jobs:
        if job.status != Status.READY or not job.video:
            continue
        kept.append(job)
        name = str(job.video.name)

        def opener(name: str = name) -> IO[bytes]:
            return default_storage.open(name, "rb")

        yield f"{job.pk}-{_slug(job.prompt)}.mp4", opener

    def manifest() -> IO[bytes]:
        text = "".join(csv_rows(GALLERY_HEADER, gallery_rows_of(kept)))
        return io.BytesIO(text.encode("utf-8"))

    yield "videos.csv", manifest


def gallery_rows_of(jobs: list[Generation]) -> Iterator[list[Any]]:
    ids = [job.pk for job in jobs]
    order = {pk: index for index, pk in enumerate(ids)}
    rows = list(gallery_rows(Generation.objects.filter(pk__in=ids)))
    return iter(sorted(rows, key=lambda row: order[row[0]]))
