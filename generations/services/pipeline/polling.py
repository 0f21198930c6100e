"""Asking the upstream how a task is doing, and what each answer does to the job."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db.models import F

from generations.jimeng.client import TaskStatus
from generations.jimeng.errors import JimengError
from generations.models import (
    POLLED,
    Credential,
    CredentialKind,
    Generation,
    Status,
)
from generations.services.pipeline import base, schedule
from generations.services.pipeline.archiving import enqueue_archive
from generations.services.pipeline.ending import fail

log = logging.getLogger("generations.pipeline")  # the name operators filter on


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
            next_action_at=base.later(schedule.backoff(errors, slow=not error.transient)),
            lease_until=None,
            lease_owner="",
        )
        log.info("query failed (%s); asking again later", error, extra=base.context(generation))
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
        elapsed = (base.now() - (generation.submitted_at or generation.created_at)).total_seconds()
        status = Status.GENERATING if result.status == TaskStatus.GENERATING else Status.SUBMITTED
        mine.update(
            status=status,
            upstream_running_at=base.now(),
            next_action_at=base.later(schedule.next_delay(generation, elapsed)),
            **common,
        )
        return
    if result.status == TaskStatus.DONE and result.video_url:
        changed = mine.update(
            status=Status.DOWNLOADING,
            upstream_done_at=base.now(),
            video_url=result.video_url,
            last_frame_url=result.last_frame_url or "",
            tokens_used=result.completion_tokens,
            # The seed the upstream reports it used (Ark); else the one we sent stays.
            **({"seed_used": result.seed} if result.seed is not None else {}),
            aigc_meta_tagged=result.aigc_meta_tagged,
            next_action_at=base.now(),  # for a download: when it was last handed to a worker
            **common,
        )
        if changed:
            log.info("upstream done; downloading", extra=base.context(generation))
            enqueue_archive(generation.pk)
        return
    mine.update(**common)
    if result.status == TaskStatus.FAILED:
        fail(generation, str(result.failure_code or "failed"), result.failure_message or "")
    elif result.status == TaskStatus.DONE:
        fail(generation, "no_video", "the upstream finished without a video link")
    else:  # not_found (unknown or older than 12 h) or expired
        fail(generation, result.status.value, "")
