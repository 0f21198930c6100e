"""Archiving a finished video: download at once, probe, poster, Ark's last frame,
store, settle."""

from __future__ import annotations

import logging
import tempfile
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q

from generations.jimeng import catalog, runner
from generations.jimeng.errors import JimengError
from generations.jimeng.probe import NotAVideo, probe, write_poster
from generations.models import (
    Generation,
    NotificationKind,
    Status,
    WebhookEvent,
    address_rules,
    last_frame_path,
    poster_path,
    video_path,
)
from generations.services import (
    gallery_totals,
    ledger,
    notifications,
    webhooks,
)
from generations.services.pipeline import base, schedule
from generations.services.pipeline.ending import fail
from generations.services.queue import after_commit

log = logging.getLogger("generations.pipeline")  # the name operators filter on


# --- archiving ------------------------------------------------------------------------


def enqueue_archive(generation_id: int) -> None:
    """Hand the download to a worker at once (the link lives an hour), after the commit
    that made the job due."""
    after_commit(archive, generation_id, name=f"archive-{generation_id}")


def archive(generation_id: int) -> None:
    """Download the finished video, probe it, cut a poster, keep Ark's last frame, store
    them, settle the cost. (Other videos' last frames are cut when first needed:
    `frames.last_frame_of`.)"""
    owner = uuid.uuid4().hex
    now = base.now()
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_owner=owner,
            lease_until=base.later(settings.ARCHIVE_LEASE_SECONDS),
            download_attempts=F("download_attempts") + 1,
        )
    )
    if not claimed:
        return
    generation = Generation.objects.get(pk=generation_id)
    with tempfile.TemporaryDirectory(prefix="jimeng-") as scratch:
        files = _Files(Path(scratch))
        try:
            size = _download(generation.video_url, files.video, settings.JIMENG_MAX_VIDEO_BYTES)
            info = probe(files.video)
            write_poster(files.video, files.poster)
            _keep_arks_last_frame(generation, files)
        except JimengError as error:
            _download_failed(generation, error, owner)
            return
        except NotAVideo as error:
            fail(generation, "bad_video", str(error), owner=owner)
            return
        _store_media(generation, files)
        last_frame = files.last_frame.exists()
    _finish(generation, owner, size, info, last_frame=last_frame)


@dataclass(frozen=True)
class _Files:
    scratch: Path

    @property
    def video(self) -> Path:
        return self.scratch / "video.mp4"

    @property
    def poster(self) -> Path:
        return self.scratch / "poster.jpg"

    @property
    def last_frame(self) -> Path:
        return self.scratch / "last.png"


LAST_FRAME_MAX_BYTES = 30 * 1024 * 1024


def _download(url: str, destination: Path, max_bytes: int) -> int:
    return runner.download_video(
        url,
        destination,
        connect_timeout=settings.JIMENG_CONNECT_TIMEOUT,
        read_timeout=settings.JIMENG_DOWNLOAD_TIMEOUT,
        max_bytes=max_bytes,
        attempts=settings.DOWNLOAD_ATTEMPTS,
        rules=address_rules(),
    )


def _keep_arks_last_frame(generation: Generation, files: _Files) -> None:
    """Ark's own last frame (its link expires with the video's). One Ark could not give
    is not worth failing a paid-for video over: it is cut from the video when needed."""
    if not generation.last_frame_url:
        return
    try:
        _download(generation.last_frame_url, files.last_frame, LAST_FRAME_MAX_BYTES)
    except JimengError:
        files.last_frame.unlink(missing_ok=True)
        log.warning("the last frame could not be fetched", extra=base.context(generation))


def _store_media(generation: Generation, files: _Files) -> None:
    """Store under names fixed by the job, replacing what a crashed attempt left."""
    for local, name in (
        (files.video, video_path(generation)),
        (files.poster, poster_path(generation)),
        (files.last_frame, last_frame_path(generation)),
    ):
        if not local.exists():  # no last frame from Ark
            continue
        if default_storage.exists(name):
            default_storage.delete(name)
        with local.open("rb") as handle:
            saved = default_storage.save(name, File(handle))
        if saved != name:  # a concurrent attempt won the name; ours must not linger
            default_storage.delete(saved)


def _actual_cost(generation: Generation, info: Any) -> ledger.Actual | None:
    """What the upstream billed, when it is not simply the estimate: Ark's tokens, and
    the length the model picked."""
    seconds = round(info.duration_seconds) if generation.auto_length else generation.seconds
    if generation.tokens_used is None or generation.price_cny_per_million_tokens is None:
        if seconds == generation.seconds:
            return None
        per_second = generation.price_cny_per_second
        return ledger.Actual((per_second * seconds).quantize(Decimal("0.01")), seconds)
    price = catalog.Price("", Decimal("0"), True, generation.price_cny_per_million_tokens)
    return ledger.Actual(catalog.token_cost(price, generation.tokens_used), seconds)


def _finish(generation: Generation, owner: str, size: int, info: Any, *, last_frame: bool) -> None:
    actual = _actual_cost(generation, info)
    cost = actual.cny if actual else generation.cost_cny
    seconds = actual.seconds if actual else generation.seconds
    with transaction.atomic():
        changed = Generation.objects.filter(
            pk=generation.pk, status=Status.DOWNLOADING, lease_owner=owner
        ).update(
            status=Status.READY,
            video=video_path(generation),
            poster=poster_path(generation),
            last_frame=last_frame_path(generation) if last_frame else "",
            video_bytes=size,
            video_duration=info.duration_seconds,
            video_fps=info.fps,
            video_width=info.width,
            video_height=info.height,
            video_frames=info.frames,
            video_audio_codec=info.audio_codec or "",
            seconds=seconds,
            cost_cny=cost,
            finished_at=base.now(),
            lease_until=None,
            lease_owner="",
            video_url="",
            last_frame_url="",
        )
        if changed:
            ledger.settle(generation, actual)
            generation.cost_cny, generation.seconds = (
                cost,
                actual.seconds if actual else generation.seconds,
            )
            gallery_totals.record_finished(generation, Status.READY)
            webhooks.job_event(generation.pk, WebhookEvent.JOB_READY)
            notifications.job_finished(generation.pk, NotificationKind.JOB_READY)
    if changed:
        log.info(
            "ready: %sx%s, %s frames, %s CNY",
            info.width,
            info.height,
            info.frames,
            cost,
            extra=base.context(generation),
        )


def _download_failed(generation: Generation, error: JimengError, owner: str) -> None:
    if error.code in ("link_expired", "download_refused", "address_refused"):
        fail(generation, str(error.code), error.message, owner=owner)
        return
    if generation.download_attempts >= settings.ARCHIVE_ATTEMPTS:
        fail(generation, "download_failed", error.message, owner=owner)
        return
    # Network trouble: let the lease run a short while, then recovery tries again.
    Generation.objects.filter(pk=generation.pk, lease_owner=owner).update(
        lease_until=base.later(schedule.backoff(generation.download_attempts)),
        last_error=error.message[:300],
    )
    log.info("download failed (%s); will retry", error, extra=base.context(generation))
