"""A chain of extensions as one MP4, joined on a worker (docs/joining.md).

The joined file is derived from ready videos and kept until one of its parts is
deleted; asking again for the same parts in the same order gives the same file. A join
that a crashed worker left half-way is started again when someone asks after
`STALE_AFTER`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations import media
from generations.errors import Refused
from generations.jimeng.join import join
from generations.jimeng.probe import NotAVideo
from generations.models import Generation, JoinedPart, JoinedVideo, JoinState, Status, parts_key
from generations.services.queue import after_commit, once_committed

log = logging.getLogger(__name__)

MAX_PARTS = 50
STALE_AFTER = timedelta(minutes=10)


def joined_video(parts: Sequence[Generation], *, again: bool = False) -> JoinedVideo:
    """The one MP4 of these ready videos in this order: as it is when it was made (or is
    being made, or failed), else started now on a worker; `again` starts a failed one
    once more."""
    if len(parts) < 2:
        raise Refused(_("Only a chain of two or more videos can be joined."))
    if len(parts) > MAX_PARTS:
        raise Refused(_("A chain of more than %(n)s videos cannot be joined.") % {"n": MAX_PARTS})
    if any(part.status != Status.READY or part.deleted_at for part in parts):
        raise Refused(_("Every part must be a ready video to be joined."))
    team_id = parts[0].team_id
    key = parts_key([part.pk for part in parts])
    try:
        with transaction.atomic():
            joined, made = JoinedVideo.objects.select_for_update().get_or_create(
                team_id=team_id, key=key
            )
            if made:
                JoinedPart.objects.bulk_create(
                    JoinedPart(joined=joined, generation=part, position=number)
                    for number, part in enumerate(parts)
                )
            elif not _should_start_again(joined, again=again):
                return joined
            else:
                joined.state, joined.error, joined.started_at = (
                    JoinState.BUILDING,
                    "",
                    timezone.now(),
                )
                joined.save(update_fields=["state", "error", "started_at"])
            after_commit(build, joined.pk, name=f"join-{joined.pk}")
    except IntegrityError:  # someone asked for the same parts at the same moment
        return JoinedVideo.objects.get(team_id=team_id, key=key)
    return joined


def _should_start_again(joined: JoinedVideo, *, again: bool) -> bool:
    if joined.state == JoinState.FAILED:
        return again
    if joined.state == JoinState.READY:
        return not joined.file.name
    return joined.started_at < timezone.now() - STALE_AFTER


def build(joined_id: int) -> None:
    """The worker's part: fetch the parts from storage, join them, store the result."""
    joined = JoinedVideo.objects.filter(pk=joined_id, state=JoinState.BUILDING).first()
    if joined is None:
        return  # done already, or its parts were deleted
    names = list(joined.parts.order_by("position").values_list("generation__video", flat=True))
    try:
        with tempfile.TemporaryDirectory(prefix="join-") as folder:
            sources = []
            for number, name in enumerate(names):
                source = Path(folder) / f"part-{number}.mp4"
                with default_storage.open(name, "rb") as stored, source.open("wb") as copy:
                    shutil.copyfileobj(stored, copy, 256 * 1024)
                sources.append(source)
            target = Path(folder) / "joined.mp4"
            result = join(sources, target)
            with target.open("rb") as handle:
                # `save` on the field names the file by `joined_path` and keeps the row.
                joined.file.save("joined.mp4", File(handle), save=False)
    except (NotAVideo, OSError, ValueError) as error:
        log.warning("joining %s failed: %s", joined_id, error)
        JoinedVideo.objects.filter(pk=joined_id, state=JoinState.BUILDING).update(
            state=JoinState.FAILED, error=str(error)[:300], finished_at=timezone.now()
        )
        return
    updated = JoinedVideo.objects.filter(pk=joined_id, state=JoinState.BUILDING).update(
        state=JoinState.READY,
        file=joined.file.name,
        size_bytes=joined.file.size,
        duration_seconds=result.duration_seconds,
        width=result.width,
        height=result.height,
        reencoded=result.reencoded,
        why_reencoded=result.why[:300],
        finished_at=timezone.now(),
    )
    if not updated:  # a part was deleted meanwhile: the file must not outlive it
        media.delete_files(joined.file.name or "")


def forget_with(generation: Generation) -> None:
    """Drop every joined video that holds `generation` (it is being deleted), and its file
    once the transaction commits."""
    joined = JoinedVideo.objects.filter(parts__generation=generation)
    names = [name for name in joined.values_list("file", flat=True) if name]
    joined.delete()
    if names:
        once_committed(lambda: media.delete_files(*names))
