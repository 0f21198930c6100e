"""Dispatchers: the fair order of due work, the upstream's rate, slices of time, and
stopping them at once when a worker is asked to stop."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import OperationalError
from django.db.models import Case, F, Q, Value, When, Window
from django.db.models.functions import RowNumber

from generations.models import (
    DISPATCHED,
    Generation,
    Status,
    Team,
    WorkerLease,
)
from generations.services.pipeline import base, upstream_rate
from generations.services.pipeline.archiving import enqueue_archive
from generations.services.pipeline.checking import check
from generations.services.pipeline.polling import poll
from generations.services.pipeline.recovery import recover
from generations.services.pipeline.submitting import submit
from generations.services.queue import after_commit, once_committed

log = logging.getLogger("generations.pipeline")  # the name operators filter on


RECOVER_EVERY_SECONDS = 5.0


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
        after_commit(dispatch, slot, name=f"dispatch-{slot}-{uuid.uuid4().hex[:8]}")
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
    now = base.now()
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
            .update(lease_owner=owner, lease_until=base.later(settings.POLL_LEASE_SECONDS))
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
            dispatched_at=base.now(), dispatch_lane=int(generation.status in SENDING)
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
    WorkerLease.objects.filter(name=f"kick:{slot}").update(owner="", expires_at=base.now())

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
    time.sleep(max(0.0, (second - base.now()).total_seconds()) + 0.1)
    return WorkerLease.acquire(name, owner, lease)


def requeue(generation: Generation) -> bool:
    """Operator's nudge: do the next step now instead of waiting for its time."""
    rows = Generation.objects.filter(pk=generation.pk)
    if generation.status == Status.DOWNLOADING:
        changed = rows.filter(status=Status.DOWNLOADING).update(
            lease_until=None, lease_owner="", next_action_at=base.now()
        )
        if changed:
            enqueue_archive(generation.pk)
        return bool(changed)
    changed = rows.filter(status__in=DISPATCHED).update(
        next_action_at=base.now(), lease_until=None, lease_owner=""
    )
    if changed:
        once_committed(kick)
    return bool(changed)
