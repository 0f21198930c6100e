"""The life of a generation after the form: submit once, poll, archive, settle.

Every step claims its row with a conditional update and a lease, so any number of
workers can run the same step and only one does the work; a worker killed at any
moment leaves a lease that runs out, and the next dispatcher or the sweeper takes
over. No network call happens inside a database transaction.

    queued ─submit→ submitting → submitted ⇄ generating ─done→ downloading → ready
       └─cancel→ cancelled     (any step can end in failed, with a reason)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, OperationalError, transaction
from django.db.models import Case, F, Q, Value, When, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from generations.jimeng import catalog, runner
from generations.jimeng.client import ArkClient, TaskStatus
from generations.jimeng.errors import ErrorKind, JimengError
from generations.jimeng.images import to_base64
from generations.jimeng.payload import build_body
from generations.jimeng.probe import NotAVideo, probe, write_poster
from generations.models import (
    ACTIVE,
    DISPATCHED,
    POLLED,
    Credential,
    CredentialKind,
    Generation,
    NotificationKind,
    Status,
    Team,
    WebhookEvent,
    WorkerLease,
    address_rules,
    last_frame_path,
    poster_path,
    video_path,
)
from generations.services import (
    callbacks,
    gallery_totals,
    held_frames,
    ledger,
    notifications,
    webhooks,
)
from generations.services.pipeline import schedule, upstream_rate

log = logging.getLogger("generations.services.pipeline")

MAX_SUBMIT_ATTEMPTS = 8
LIMIT_CODES = frozenset({50429, 50430})  # rate and concurrency limits (docs/pipeline.md)
RECOVER_EVERY_SECONDS = 5.0


def _context(generation: Generation, **extra: Any) -> dict[str, Any]:
    """Structured fields for every pipeline log line (see jimeng_web.logs)."""
    return {
        "job": generation.pk,
        "team": generation.team_id,
        "request_id": generation.upstream_request_id or None,
        **extra,
    }


def _now() -> datetime:
    return timezone.now()


def _later(seconds: float) -> datetime:
    return _now() + timedelta(seconds=seconds)


# --- ending a job --------------------------------------------------------------------


def _remove_media(generation: Generation) -> None:
    for name in (video_path(generation), poster_path(generation), last_frame_path(generation)):
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s", name, extra=_context(generation))


def fail(
    generation: Generation,
    code: str,
    detail: str = "",
    *,
    from_statuses: tuple[str, ...] = ACTIVE,
    owner: str | None = None,
) -> bool:
    """End the job with a reason and release its reservation, once."""
    rows = Generation.objects.filter(pk=generation.pk, status__in=from_statuses)
    if owner is not None:
        rows = rows.filter(lease_owner=owner)
    with transaction.atomic():
        changed = rows.update(
            status=Status.FAILED,
            failure_code=code[:40],
            failure_detail=detail[:300],
            finished_at=_now(),
            next_action_at=None,
            lease_until=None,
            lease_owner="",
        )
        if changed:
            ledger.release(generation, f"{code}: {detail}"[:200])
            gallery_totals.record_finished(generation, Status.FAILED)
            webhooks.job_event(generation.pk, WebhookEvent.JOB_FAILED)
            notifications.job_finished(generation.pk, NotificationKind.JOB_FAILED)
    if changed:
        _remove_media(generation)
        log.info("job failed: %s %s", code, detail, extra=_context(generation, code=code))
    return bool(changed)


def cancel(generation: Generation) -> bool:
    """Cancel a job that has not been sent upstream yet."""
    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished_at=_now(), next_action_at=None, lease_until=None
        )
        if changed:
            ledger.release(generation, "cancelled")
            gallery_totals.record_finished(generation, Status.CANCELLED)
    return bool(changed)


def cancel_upstream(generation: Generation) -> bool:
    """Cancel an Ark job whose task is still queued upstream (DELETE turns a queued task
    into cancelled; a running one is refused), and release its reservation."""
    credential = generation.credential
    client = credential.client() if credential else None
    waiting = generation.status == Status.SUBMITTED and generation.upstream_status in (
        "",
        "in_queue",
    )
    if not (isinstance(client, ArkClient) and waiting and generation.upstream_task_id):
        return False
    try:
        client.cancel(generation.upstream_task_id)
    except JimengError as error:
        log.info("upstream refused to cancel: %s", error, extra=_context(generation))
        return False
    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation.pk, status__in=POLLED).update(
            status=Status.CANCELLED, finished_at=_now(), next_action_at=None, lease_until=None
        )
        if changed:
            ledger.release(generation, "cancelled upstream")
            gallery_totals.record_finished(generation, Status.CANCELLED)
    return bool(changed)


def requeue(generation: Generation) -> bool:
    """Operator's nudge: do the next step now instead of waiting for its time."""
    rows = Generation.objects.filter(pk=generation.pk)
    if generation.status == Status.DOWNLOADING:
        changed = rows.filter(status=Status.DOWNLOADING).update(
            lease_until=None, lease_owner="", next_action_at=_now()
        )
        if changed:
            transaction.on_commit(lambda: enqueue_archive(generation.pk))
        return bool(changed)
    changed = rows.filter(status__in=DISPATCHED).update(
        next_action_at=_now(), lease_until=None, lease_owner=""
    )
    if changed:
        transaction.on_commit(kick)
    return bool(changed)


# --- submitting ----------------------------------------------------------------------


def request_body(generation: Generation, callback_token: str = "") -> dict[str, Any]:
    """The submit body, with the fitted frames read from storage. An Ark job carries its
    identifier (to be found again if the answer is lost) and, when the studio has a
    public address, the URL Ark calls back (docs/upstream/ark.md)."""
    images = generation.images.order_by("position")
    encoded = tuple(_read_base64(image.fitted.name or "") for image in images)
    body = build_body(generation.catalog_mode, generation.request_input(encoded))
    if generation.catalog_mode.is_ark:
        body["safety_identifier"] = generation.upstream_identifier
        if callback_token:
            body["callback_url"] = callbacks.url(callback_token)
    return body


def _read_base64(name: str) -> str:
    with default_storage.open(name, "rb") as handle:
        return to_base64(handle.read())


def _retry_database(step: Callable[[], Any], generation: Generation, what: str) -> Any:
    """Keep trying a write that must not be lost (the database may be away briefly)."""
    delay = 0.5
    deadline = time.monotonic() + settings.PIPELINE_DB_RETRY_SECONDS
    while True:
        try:
            return step()
        except OperationalError:
            if time.monotonic() > deadline:
                raise
            log.warning("database unavailable while %s; retrying", what, extra=_context(generation))
            time.sleep(delay)
            delay = min(5.0, delay * 2)


@contextmanager
def _alarm_held() -> Iterator[None]:
    """Hold off django-q2's task timeout (it raises from a SIGALRM handler) while a job
    is claimed, sent and recorded: an exception between sending and recording would
    leave a task paid for upstream with no id here. An alarm that comes meanwhile goes
    off right after; the cluster's guard still kills a task that overruns by 3 s more."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Python runs signal handlers in the main thread only
        return
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, previous)
        if fired:
            signal.raise_signal(signal.SIGALRM)


def submit(generation: Generation, owner: str) -> None:
    """Send the job upstream exactly once; store the task id the upstream gave it."""
    with _alarm_held():
        _submit(generation, owner)


def _submit(generation: Generation, owner: str) -> None:
    token = callbacks.new_token() if generation.catalog_mode.is_ark else ""
    claimed = Generation.objects.filter(
        pk=generation.pk, status=Status.QUEUED, lease_owner=owner
    ).update(
        status=Status.SUBMITTING,
        attempts=F("attempts") + 1,
        lease_until=_later(settings.SUBMIT_LEASE_SECONDS),
        submitted_at=_now(),  # when it was sent; a lost answer is looked for from here
        callback_token_hash=callbacks.token_hash(token) if token else "",
    )
    if not claimed:
        return
    generation.refresh_from_db()
    credential = generation.credential
    if credential is None:
        fail(generation, "no_credential", "the team has no upstream key for this mode")
        return
    try:
        result = credential.client().submit(request_body(generation, token))
    except JimengError as error:
        _submit_failed(generation, error, owner)
        return
    except OSError as error:  # a fitted image went missing from storage
        fail(generation, "storage", str(error)[:200])
        return

    def record() -> int:
        return Generation.objects.filter(pk=generation.pk, status=Status.SUBMITTING).update(
            status=Status.SUBMITTED,
            upstream_task_id=result.task_id,
            upstream_request_id=result.request_id or "",
            submitted_at=_now(),
            next_action_at=_later(_first_query(generation)),
            lease_until=None,
            lease_owner="",
            last_error="",
        )

    # The task exists upstream and is being paid for: its id must reach the database.
    log.info(
        "submitted as task %s",
        result.task_id,
        extra=_context(generation, request_id=result.request_id, task_id=result.task_id),
    )
    _retry_database(record, generation, "recording a task id")


def _first_query(generation: Generation) -> float:
    """With callbacks coming, the first query is only the fallback for a lost one."""
    expected = schedule.first_delay(generation)
    if generation.callback_token_hash:
        return max(expected * 2, expected + settings.CALLBACK_GRACE_SECONDS)
    return expected


def _submit_failed(generation: Generation, error: JimengError, owner: str) -> None:
    generation.upstream_request_id = error.request_id or ""
    if error.outcome_unknown:
        if generation.catalog_mode.is_ark:
            _start_checking(generation, str(error), from_status=Status.SUBMITTING)
            return
        fail(generation, "submit_unknown", str(error), from_statuses=(Status.SUBMITTING,))
        return
    # A busy upstream (50429/50430/50500/50501) answered with no task, and a refused
    # connection never reached it: in both cases nothing was created, so try later.
    # A rate or concurrency limit says only "not now" (a burst of jobs meets the account's
    # limit for as long as earlier jobs run): it never uses up the job's tries, which
    # only errors do; the job's deadline still ends a wait that never ends.
    limited = error.code in LIMIT_CODES
    errors = generation.submit_errors + (0 if limited else 1)
    refused = error.kind == ErrorKind.ADDRESS  # the same address is refused every time
    retryable = (error.is_busy or not error.reached_service) and not refused
    if retryable and (limited or errors < MAX_SUBMIT_ATTEMPTS):
        Generation.objects.filter(pk=generation.pk, status=Status.SUBMITTING).update(
            status=Status.QUEUED,
            submit_errors=errors,
            next_action_at=_later(schedule.backoff(generation.attempts)),
            lease_until=None,
            lease_owner="",
            last_error=str(error)[:300],
        )
        log.info("submit deferred: %s", error, extra=_context(generation))
        return
    Generation.objects.filter(pk=generation.pk).update(submit_errors=errors)
    code = str(error.code) if error.code is not None else error.kind.value
    fail(generation, code, error.message, from_statuses=(Status.SUBMITTING,))


# --- a lost answer (Ark): look before resending ------------------------------------------


def _start_checking(generation: Generation, why: str, *, from_status: str) -> bool:
    """The create may have made a task: find it through `list` before anything is resent."""
    changed = Generation.objects.filter(pk=generation.pk, status=from_status).update(
        status=Status.CHECKING,
        checks=0,
        next_action_at=_later(settings.SUBMIT_CHECK_SECONDS / 10),
        lease_until=None,
        lease_owner="",
        last_error=why[:300],
    )
    if changed:
        log.info("submit answer lost; looking for the task upstream", extra=_context(generation))
    return bool(changed)


def check(generation: Generation, owner: str) -> None:
    """One list search for the job's task. Found: the job goes on with it. Not found after
    SUBMIT_CHECKS searches: no task was made, and the job is sent again."""
    mine = Generation.objects.filter(pk=generation.pk, status=Status.CHECKING, lease_owner=owner)
    credential = generation.credential
    client = credential.client() if credential else None
    if not isinstance(client, ArkClient):
        fail(generation, "submit_unknown", "the answer was lost and the task cannot be looked up")
        return
    since = (generation.submitted_at or generation.created_at).timestamp() - 120
    try:
        found = client.find(
            model=generation.req_key, safety_identifier=generation.upstream_identifier, since=since
        )
    except JimengError as error:
        mine.update(next_action_at=_later(settings.SUBMIT_CHECK_SECONDS), lease_until=None,
                    lease_owner="", last_error=str(error)[:300])  # fmt: skip
        return
    if found:
        mine.update(status=Status.SUBMITTED, upstream_task_id=found,
                    next_action_at=_later(_first_query(generation)), lease_until=None,
                    lease_owner="", last_error="")  # fmt: skip
        log.info("found the task %s upstream", found, extra=_context(generation, task_id=found))
    elif generation.checks + 1 < settings.SUBMIT_CHECKS:
        mine.update(checks=F("checks") + 1, next_action_at=_later(settings.SUBMIT_CHECK_SECONDS),
                    lease_until=None, lease_owner="")  # fmt: skip
    else:
        mine.update(status=Status.QUEUED, checks=0, next_action_at=_now(), lease_until=None,
                    lease_owner="")  # fmt: skip
        log.info("no task was made; sending again", extra=_context(generation))


# --- polling -------------------------------------------------------------------------


def aigc_req_json(credential: Credential) -> str | None:
    if credential.kind != CredentialKind.VOLCENGINE or not settings.AIGC_PRODUCER_ID:
        return None
    meta = {
        "producer_id": settings.AIGC_PRODUCER_ID,
        "content_propagator": settings.AIGC_PRODUCER_ID,
    }
    return json.dumps({"aigc_meta": meta}, separators=(",", ":"))


def poll(generation: Generation, owner: str) -> None:
    credential = generation.credential
    if credential is None:
        fail(generation, "no_credential", "the upstream key was deleted while the job ran")
        return
    mine = Generation.objects.filter(pk=generation.pk, status__in=POLLED, lease_owner=owner)
    try:
        result = credential.client().get_result(
            task_id=generation.upstream_task_id,
            req_key=generation.req_key,
            req_json=aigc_req_json(credential),
        )
    except JimengError as error:
        # The task may still succeed: never end a job for a failed query; ask later.
        errors = generation.errors_in_a_row + 1
        mine.update(
            polls=F("polls") + 1,
            errors_in_a_row=errors,
            last_error=str(error)[:300],
            next_action_at=_later(schedule.backoff(errors, slow=not error.transient)),
            lease_until=None,
            lease_owner="",
        )
        log.info("query failed (%s); asking again later", error, extra=_context(generation))
        return
    _apply_result(generation, result, mine)


def _apply_result(generation: Generation, result: Any, mine: Any) -> None:
    common = {
        "polls": F("polls") + 1,
        "errors_in_a_row": 0,
        "upstream_status": result.status.value,
        "lease_until": None,
        "lease_owner": "",
        "last_error": "",
    }
    if result.request_id:
        common["upstream_request_id"] = result.request_id
    if result.status in (TaskStatus.IN_QUEUE, TaskStatus.GENERATING):
        elapsed = (_now() - (generation.submitted_at or generation.created_at)).total_seconds()
        status = Status.GENERATING if result.status == TaskStatus.GENERATING else Status.SUBMITTED
        mine.update(
            status=status,
            upstream_running_at=_now(),
            next_action_at=_later(schedule.next_delay(generation, elapsed)),
            **common,
        )
        return
    if result.status == TaskStatus.DONE and result.video_url:
        changed = mine.update(
            status=Status.DOWNLOADING,
            upstream_done_at=_now(),
            video_url=result.video_url,
            last_frame_url=result.last_frame_url or "",
            tokens_used=result.completion_tokens,
            # The seed the upstream reports it used (Ark); else the one we sent stays.
            **({"seed_used": result.seed} if result.seed is not None else {}),
            aigc_meta_tagged=result.aigc_meta_tagged,
            next_action_at=_now(),  # for a download: when it was last handed to a worker
            **common,
        )
        if changed:
            log.info("upstream done; downloading", extra=_context(generation))
            enqueue_archive(generation.pk)
        return
    mine.update(**common)
    if result.status == TaskStatus.FAILED:
        fail(generation, str(result.failure_code or "failed"), result.failure_message or "")
    elif result.status == TaskStatus.DONE:
        fail(generation, "no_video", "the upstream finished without a video link")
    else:  # not_found (unknown or older than 12 h) or expired
        fail(generation, result.status.value, "")


# --- archiving ------------------------------------------------------------------------


def enqueue_archive(generation_id: int) -> None:
    async_task("generations.tasks.archive", generation_id, task_name=f"archive-{generation_id}")


def archive(generation_id: int) -> None:
    """Download the finished video, probe it, cut a poster, keep Ark's last frame, store
    them, settle the cost. (Other videos' last frames are cut when first needed:
    `frames.last_frame_of`.)"""
    owner = uuid.uuid4().hex
    now = _now()
    claimed = (
        Generation.objects.filter(pk=generation_id, status=Status.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(
            lease_owner=owner,
            lease_until=_later(settings.ARCHIVE_LEASE_SECONDS),
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
        log.warning("the last frame could not be fetched", extra=_context(generation))


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
            finished_at=_now(),
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
            extra=_context(generation),
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
        lease_until=_later(schedule.backoff(generation.download_attempts)),
        last_error=error.message[:300],
    )
    log.info("download failed (%s); will retry", error, extra=_context(generation))


# --- dispatching ---------------------------------------------------------------------


def _dispatch_slot_name(slot: int) -> str:
    return f"dispatch:{slot}"


def kick(*, after_start: str = "") -> int:
    """Make sure dispatchers run while there is work: start any whose slot is free.

    A kick marker lets one of many simultaneous kickers (a burst of submissions) enqueue
    the dispatcher, not all of them. A worker cluster that has just started (perhaps
    after a crash) passes `after_start`, naming that start: it starts dispatchers even
    where a slot looks held (the holder may be dead; the new dispatcher's takeover
    check tells), deduplicated only among the workers of that same start, so a marker
    left from before the crash cannot hold it back.
    """
    if not Generation.objects.filter(status__in=DISPATCHED).exists():
        return 0
    started = 0
    for slot in range(settings.DISPATCH_SLOTS):
        held = WorkerLease.is_held(_dispatch_slot_name(slot))
        marker = f"kick:{slot}:{after_start}" if after_start else f"kick:{slot}"
        if (held and not after_start) or not WorkerLease.acquire(marker, uuid.uuid4().hex, 5):
            continue
        async_task(
            "generations.tasks.dispatch", slot, task_name=f"dispatch-{slot}-{uuid.uuid4().hex[:8]}"
        )
        started += 1
    return started


def _due(now: datetime, limit: int) -> list[Generation]:
    """Due work in a fair order: every team's most overdue job first, then every
    team's second, and so on, so a team with 500 queued jobs cannot starve another.

    Within a team, submissions and polls are two lanes taking turns, so a long queue
    of new jobs does not hold back the polls of jobs that are already running.

    The turns are remembered on the team (who was served last, in which lane): when
    the upstream rate allows one call per round, the next round still goes to the
    team whose turn it is, not to whoever has the oldest job.
    """
    sending = Q(status__in=SENDING)
    lane = Case(When(sending, then=Value(1)), default=Value(0))
    rank = Window(
        RowNumber(),
        partition_by=[F("team_id"), lane],
        order_by=[F("next_action_at").asc(), F("pk").asc()],
    )
    same_lane_again = Case(
        When(sending & Q(team__dispatch_lane=1), then=Value(1)),
        When(Q(team__dispatch_lane=0) & ~sending, then=Value(1)),
        default=Value(0),
    )
    due = (
        Generation.objects.filter(status__in=DISPATCHED, next_action_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .exclude(status=Status.QUEUED, team__suspended_at__isnull=False)
        .select_related("credential")
        .annotate(fair_rank=rank, same_lane_again=same_lane_again)
        .order_by(
            "fair_rank",
            F("team__dispatched_at").asc(nulls_first=True),
            "same_lane_again",
            "next_action_at",
            "pk",
        )
    )
    return list(due[:limit])


# The submitting lane: new jobs, and jobs whose submit answer was lost.
SENDING = (Status.QUEUED, Status.CHECKING)
STEPS: dict[str, Callable[[Generation, str], None]] = {
    Status.QUEUED: submit,
    Status.CHECKING: check,
}


@dataclass
class Round:
    actions: int = 0
    wait: float = 1.0  # until something may be done again


def dispatch_round(owner: str, *, batch: int = 50, until: float | None = None) -> Round:
    """One pass over due work, within each upstream account's rate, taking no new work
    after `until` (monotonic) so that a dispatcher ends its slice on time."""
    now = _now()
    result = Round()
    blocked: set[str] = set()
    due = _due(now, batch)
    # With one upstream account, waiting here for its next token serves the next job in
    # the fair order, where a new round would run the due query again just to find it
    # (ten times a second at 10 QPS, with a window over every job in flight: most of a
    # busy worker's time, measured). With several, another account may go meanwhile.
    patience = ROUND_PATIENCE_SECONDS if len({_rate_key(g) for g in due}) == 1 else 0.0
    for generation in due:
        if _stop_asked.is_set() or (until is not None and time.monotonic() >= until):
            break
        credential = generation.credential
        key = _rate_key(generation)
        if key in blocked:
            continue
        claimed = (
            Generation.objects.filter(pk=generation.pk, status=generation.status)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_owner=owner, lease_until=_later(settings.POLL_LEASE_SECONDS))
        )
        if not claimed:
            continue
        wait = upstream_rate.take(key, credential.qps()) if credential else 0.0
        while credential and 0 < wait <= patience and _may_wait(wait, until):
            patience -= wait
            _stop_asked.wait(wait)
            wait = upstream_rate.take(key, credential.qps())
        if wait > 0:
            Generation.objects.filter(pk=generation.pk, lease_owner=owner).update(
                lease_until=None, lease_owner=""
            )
            blocked.add(key)
            result.wait = min(result.wait, wait)
            continue
        Team.objects.filter(pk=generation.team_id).update(
            dispatched_at=_now(), dispatch_lane=int(generation.status in SENDING)
        )
        STEPS.get(generation.status, poll)(generation, owner)
        result.actions += 1
    if result.actions == 0 and not blocked:
        result.wait = _until_next_due(now)
    return result


ROUND_PATIENCE_SECONDS = 1.0


def _rate_key(generation: Generation) -> str:
    credential = generation.credential
    return credential.fingerprint if credential else f"none:{generation.pk}"


def _may_wait(seconds: float, until: float | None) -> bool:
    return not _stop_asked.is_set() and (until is None or time.monotonic() + seconds < until)


def _until_next_due(now: datetime) -> float:
    upcoming = (
        Generation.objects.filter(status__in=DISPATCHED, next_action_at__isnull=False)
        .order_by("next_action_at")
        .values_list("next_action_at", flat=True)
        .first()
    )
    if upcoming is None:
        return 1.0
    return max(0.05, min(1.0, (upcoming - now).total_seconds()))


# --- stopping a worker ------------------------------------------------------------------

# Set in a worker process asked to stop: a dispatcher ends its slice at once instead of
# running it out (up to DISPATCH_SLICE_SECONDS), so that a cluster stops in seconds.
_stop_asked = threading.Event()
_terminated = threading.Event()  # ...by SIGTERM, which ends the worker process itself
_in_slice = threading.Event()


def _asked_to_stop(signum: int, frame: object) -> None:
    _stop_asked.set()
    if signum == signal.SIGTERM:
        _terminated.set()
        if not _in_slice.is_set():
            _die_of(signal.SIGTERM)


def _die_of(signum: int) -> None:
    """What django-q2 lets SIGTERM do to a worker: end it (its sentinel replaces it)."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def listen_for_stop(**_: object) -> None:
    """In a worker process: SIGINT (Ctrl-C reaches every process of the terminal; django-q2
    has the workers ignore it) and SIGTERM end a running dispatcher's slice at once; a
    SIGTERM then ends the worker, as it did before, once the slot is handed back."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _asked_to_stop)
    signal.signal(signal.SIGTERM, _asked_to_stop)


def dispatch(slot: int) -> str:
    """Run the dispatcher for one slot for a slice of time, then hand over."""
    _in_slice.set()
    try:
        return _dispatch(slot)
    finally:
        _in_slice.clear()
        if _terminated.is_set():
            _die_of(signal.SIGTERM)


def _dispatch(slot: int) -> str:
    name, owner = _dispatch_slot_name(slot), uuid.uuid4().hex[:16]
    lease = settings.DISPATCH_LEASE_SECONDS
    if not WorkerLease.acquire(name, owner, lease) and not _take_over(name, owner, lease):
        return "slot busy"
    # The kick that started us has done its work: from now on the slot's lease holds
    # kickers back. A marker left standing would swallow the kick of a job made just
    # after this dispatcher finished (within the marker's 5 s), and nobody would wake.
    WorkerLease.objects.filter(name=f"kick:{slot}").update(owner="", expires_at=_now())

    deadline = time.monotonic() + settings.DISPATCH_SLICE_SECONDS
    actions, recovered_at = 0, 0.0
    try:
        while not _stop_asked.is_set():
            WorkerLease.acquire(name, owner, lease)
            if slot == 0 and time.monotonic() - recovered_at > RECOVER_EVERY_SECONDS:
                recover()  # cheap, indexed queries: dropped work resumes within seconds
                recovered_at = time.monotonic()
            done = dispatch_round(owner, until=deadline)
            actions += done.actions
            if time.monotonic() >= deadline:
                break
            if done.actions == 0:
                if not Generation.objects.filter(status__in=DISPATCHED).exists():
                    break
                _stop_asked.wait(done.wait)
    except OperationalError:
        log.warning("database unavailable; dispatcher %s stops early", slot)
    finally:
        WorkerLease.release(name, owner)
    if _stop_asked.is_set():
        # Another worker (or this one, restarted) carries on: kick at its start.
        return f"{actions} actions; stopped"
    if Generation.objects.filter(status__in=DISPATCHED).exists():
        kick()
    return f"{actions} actions"


def _take_over(name: str, owner: str, lease: float) -> bool:
    """Take a slot from a holder that stopped renewing it (a killed worker).

    A live dispatcher renews its lease every second or so; a dead one's expiry stays
    put. Look twice: if the expiry did not move, wait for it and take the slot.
    """
    first = WorkerLease.objects.filter(name=name).values_list("expires_at", flat=True).first()
    time.sleep(2.0)
    second = WorkerLease.objects.filter(name=name).values_list("expires_at", flat=True).first()
    if first is None or second is None or second != first:
        return False
    time.sleep(max(0.0, (second - _now()).total_seconds()) + 0.1)
    return WorkerLease.acquire(name, owner, lease)


# --- recovery -------------------------------------------------------------------------


def recover() -> dict[str, int]:
    """Pick up what dead workers dropped. Safe to run any time, from anywhere."""
    now = _now()
    report = {"archives": 0, "unknown_submits": 0, "abandoned": 0, "stalled_uploads": 0}
    # One handed out moments ago is left to the worker about to take it.
    report["archives"] = requeue_downloads(grace=min(30.0, settings.ARCHIVE_LEASE_SECONDS))
    for generation in Generation.objects.filter(status=Status.SUBMITTING, lease_until__lt=now):
        # The worker died while sending: the task may exist upstream. Never resend
        # blindly: an Ark task can be looked for; any other is given up.
        if generation.catalog_mode.is_ark and _start_checking(
            generation, "the worker stopped while submitting", from_status=Status.SUBMITTING
        ):
            report["unknown_submits"] += 1
            continue
        if fail(
            generation,
            "submit_unknown",
            "the worker stopped while submitting; not resent",
            from_statuses=(Status.SUBMITTING,),
        ):
            report["unknown_submits"] += 1
    stalled = Generation.objects.filter(
        status=Status.QUEUED,
        next_action_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.UPLOAD_GRACE_SECONDS),
    )
    for generation in stalled:
        report["stalled_uploads"] += fail(
            generation,
            "upload_interrupted",
            "the upload did not finish",
            from_statuses=(Status.QUEUED,),
        )
    for generation in Generation.objects.filter(status__in=ACTIVE, deadline_at__lt=now):
        report["abandoned"] += fail(generation, "deadline", "no result before the deadline")
    report["webhooks"] = webhooks.requeue_due()
    # Markers of past worker starts are only kept to deduplicate one start.
    WorkerLease.objects.filter(
        name__startswith="kick:", expires_at__lt=now - timedelta(hours=1)
    ).delete()
    return report


def requeue_downloads(*, grace: float) -> int:
    """Hand back to the workers every download nobody holds (its worker died, or its
    task was lost: a Redis broker forgets tasks a killed cluster had taken) and that
    was last handed out more than `grace` seconds ago. A download handed out twice is
    harmless: `archive` claims the job's lease, and the second copy finds it taken."""
    now = _now()
    handed_out_before = now - timedelta(seconds=grace)
    stale = (
        Generation.objects.filter(status=Status.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_action_at__isnull=True) | Q(next_action_at__lt=handed_out_before))
    )
    ids = list(stale.values_list("pk", flat=True))
    for generation_id in ids:
        Generation.objects.filter(pk=generation_id).update(next_action_at=now)
        enqueue_archive(generation_id)
    return len(ids)


SWEEPER = "studio sweeper"  # the schedule row; created by migration 0002


def ensure_sweeper() -> None:
    """Put the sweeper's schedule back if it went missing (deleted in the admin, or a
    database restored without it): without it, dropped work waits for a dispatcher."""
    Schedule.objects.get_or_create(
        name=SWEEPER,
        defaults={
            "func": "generations.tasks.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def resume_at_worker_start(**_: object) -> None:
    """A worker that (re)starts resumes the pipeline at once instead of waiting for the
    sweeper: after a crash, dispatchers come back within one lease, and downloads the
    dead cluster had taken are handed out again."""
    # The cluster's workers share their parent process: it names this start.
    start = f"{os.uname().nodename}:{os.getppid()}"
    try:
        # The first worker of this start does the cluster-wide part (the marker is swept
        # with the kick markers after an hour).
        if WorkerLease.acquire(f"kick:resume:{start}", uuid.uuid4().hex, 3600):
            ensure_sweeper()
            requeue_downloads(grace=0)
        kick(after_start=start)
    except DatabaseError:
        log.warning("could not resume the pipeline at worker start; the sweeper will")


def sweep() -> dict[str, int]:
    report = recover()
    # Frames kept for a form that came back with an error live a day; looked at hourly.
    if WorkerLease.acquire("sweep:held-frames", uuid.uuid4().hex, 3600):
        report["held_frames_removed"] = held_frames.purge()
    report["dispatchers_started"] = kick()
    return report
