"""When to ask the upstream again.

The first query comes near the time jobs of this mode and length usually take, learned
from the studio's recent jobs (a default until there are enough); after that the
queries come closer together as the job runs past what is usual, down to a floor.
Errors back off exponentially with jitter.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache

from generations.models import Generation

SAMPLES = 30
MIN_SAMPLES = 5
CACHE_SECONDS = 30
# Until there is a history, the default is kept only briefly: a new studio (or a new
# mode) learns as soon as its first jobs finish, not a cache lifetime later.
DEFAULT_CACHE_SECONDS = 3


@dataclass(frozen=True)
class Expectation:
    """How long jobs of a mode take, in seconds: the early quartile, the median, and the
    time nine in ten finished within (`late`). Without a history there is no `late`:
    nobody can say that a job takes longer than usual before anything is usual."""

    early: float
    median: float
    late: float | None = None


def _took(submitted: datetime, running: datetime | None, done: datetime) -> float:
    """How long the upstream took, estimated as the middle of the span in which it
    finished: after the last query that found it running (or the submit) and by the
    one that found it done. Learning the moment we *noticed* instead would feed the
    schedule its own delays back: a first query at 45 s teaches that jobs take 45 s."""
    since = max(running or submitted, submitted)
    return ((since - submitted) + (done - submitted)).total_seconds() / 2


def _learn(mode: str, seconds: int) -> Expectation | None:
    recent = (
        Generation.objects.filter(
            mode=mode, seconds=seconds, upstream_done_at__isnull=False, submitted_at__isnull=False
        )
        .order_by("-upstream_done_at")
        .values_list("submitted_at", "upstream_running_at", "upstream_done_at")[:SAMPLES]
    )
    durations = sorted(
        _took(submitted, running, done)
        for submitted, running, done in recent
        if submitted is not None and done is not None  # filtered above; for the type checker
    )
    if len(durations) < MIN_SAMPLES:
        return None
    quartiles = statistics.quantiles(durations, n=4)
    deciles = statistics.quantiles(durations, n=10)
    return Expectation(early=quartiles[0], median=quartiles[1], late=deciles[8])


def expectation(mode: str, seconds: int) -> Expectation:
    """How long jobs of this mode and duration take; shared by every process through
    the cache (Redis when CACHE_URL is set)."""
    key = f"poll:expect:v2:{mode}:{seconds}"  # v2: with `late`
    value = cache.get(key)
    if value is None:
        learned = _learn(mode, seconds)
        if learned is None:
            default = settings.POLL_EXPECTED_SECONDS
            value = Expectation(early=0.75 * default, median=default)
        else:
            value = learned
        cache.set(key, value, CACHE_SECONDS if learned else DEFAULT_CACHE_SECONDS)
    return value


def first_delay(generation: Generation) -> float:
    """The first query after the submit. With callbacks coming (Ark, with a public
    address), it is only the fallback for a lost one: it comes well after the usual time."""
    if settings.POLL_FIXED_INTERVAL:
        expected = settings.POLL_FIXED_INTERVAL
    else:
        early = expectation(generation.mode, generation.seconds).early
        expected = max(settings.POLL_MIN_INTERVAL, early)
    if generation.callback_token_hash:
        return max(expected * 2, expected + settings.CALLBACK_GRACE_SECONDS)
    return expected


def next_delay(generation: Generation, elapsed: float) -> float:
    """Half the way to the usual finish, then the floor once past it."""
    if settings.POLL_FIXED_INTERVAL:
        return settings.POLL_FIXED_INTERVAL
    expected = expectation(generation.mode, generation.seconds)
    remaining = expected.median - elapsed
    delay = remaining / 2 if remaining > 0 else settings.POLL_MIN_INTERVAL
    return min(settings.POLL_MAX_INTERVAL, max(settings.POLL_MIN_INTERVAL, delay))


def backoff(errors_in_a_row: int, *, slow: bool = False) -> float:
    """Exponential, with jitter so that workers do not come back all at once."""
    base = settings.POLL_MIN_INTERVAL * (4 if slow else 1)
    delay = min(
        settings.POLL_MAX_INTERVAL * (4 if slow else 1), base * 2 ** max(0, errors_in_a_row - 1)
    )
    return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
