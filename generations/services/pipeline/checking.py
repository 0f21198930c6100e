"""A lost create answer (Ark): look for the task through `list` before anything is
resent."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import F

from generations.jimeng.client import ArkClient
from generations.jimeng.errors import JimengError
from generations.models import (
    Generation,
    Status,
)
from generations.services.pipeline import base, schedule
from generations.services.pipeline.ending import fail

log = logging.getLogger("generations.pipeline")  # the name operators filter on


# --- a lost answer (Ark): look before resending ------------------------------------------


def start_checking(generation: Generation, why: str, *, from_status: str) -> bool:
    """The create may have made a task: find it through `list` before anything is resent."""
    changed = Generation.objects.filter(pk=generation.pk, status=from_status).update(
        status=Status.CHECKING,
        checks=0,
        next_action_at=base.later(settings.SUBMIT_CHECK_SECONDS / 10),
        lease_until=None,
        lease_owner="",
        last_error=why[:300],
    )
    if changed:
        log.info(
            "submit answer lost; looking for the task upstream", extra=base.context(generation)
        )
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
        mine.update(next_action_at=base.later(settings.SUBMIT_CHECK_SECONDS), lease_until=None,
                    lease_owner="", last_error=str(error)[:300])  # fmt: skip
        return
    if found:
        mine.update(status=Status.SUBMITTED, upstream_task_id=found,
                    next_action_at=base.later(schedule.first_delay(generation)), lease_until=None,
                    lease_owner="", last_error="")  # fmt: skip
        log.info("found the task %s upstream", found, extra=base.context(generation, task_id=found))
    elif generation.checks + 1 < settings.SUBMIT_CHECKS:
        again = base.later(settings.SUBMIT_CHECK_SECONDS)
        mine.update(checks=F("checks") + 1, next_action_at=again, lease_until=None,
                    lease_owner="")  # fmt: skip
    else:
        mine.update(status=Status.QUEUED, checks=0, next_action_at=base.now(), lease_until=None,
                    lease_owner="")  # fmt: skip
        log.info("no task was made; sending again", extra=base.context(generation))
