"""Sending a job upstream exactly once and recording the task id it got; what a busy
or refusing upstream means for the job (docs/pipeline.md)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.db.models import F

from generations.jimeng.errors import ErrorKind, JimengError
from generations.jimeng.images import to_base64
from generations.jimeng.payload import build_body
from generations.models import (
    Generation,
    Status,
)
from generations.services import (
    callbacks,
)
from generations.services.pipeline import base, schedule
from generations.services.pipeline.checking import start_checking
from generations.services.pipeline.ending import fail

log = logging.getLogger("generations.pipeline")  # the name operators filter on


MAX_SUBMIT_ATTEMPTS = 8
LIMIT_CODES = frozenset({50429, 50430})  # rate and concurrency limits (docs/pipeline.md)


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
            log.warning(
                "database unavailable while %s; retrying", what, extra=base.context(generation)
            )
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
        lease_until=base.later(settings.SUBMIT_LEASE_SECONDS),
        submitted_at=base.now(),  # when it was sent; a lost answer is looked for from here
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
            submitted_at=base.now(),
            next_action_at=base.later(schedule.first_delay(generation)),
            lease_until=None,
            lease_owner="",
            last_error="",
        )

    # The task exists upstream and is being paid for: its id must reach the database.
    log.info(
        "submitted as task %s",
        result.task_id,
        extra=base.context(generation, request_id=result.request_id, task_id=result.task_id),
    )
    _retry_database(record, generation, "recording a task id")


def _submit_failed(generation: Generation, error: JimengError, owner: str) -> None:
    generation.upstream_request_id = error.request_id or ""
    if error.outcome_unknown:
        if generation.catalog_mode.is_ark:
            start_checking(generation, str(error), from_status=Status.SUBMITTING)
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
            next_action_at=base.later(schedule.backoff(generation.attempts)),
            lease_until=None,
            lease_owner="",
            last_error=str(error)[:300],
        )
        log.info("submit deferred: %s", error, extra=base.context(generation))
        return
    Generation.objects.filter(pk=generation.pk).update(submit_errors=errors)
    code = str(error.code) if error.code is not None else error.kind.value
    fail(generation, code, error.message, from_statuses=(Status.SUBMITTING,))
