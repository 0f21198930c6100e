"""The life of a generation after the form: submit once, poll, archive, settle.

Every step claims its row with a conditional update and a lease, so any number of
workers can run the same step and only one does the work; a worker killed at any
moment leaves a lease that runs out, and the next dispatcher or the sweeper takes
over. No network call happens inside a database transaction.

    queued ─submit→ submitting → submitted ⇄ generating ─done→ downloading → ready
       └─cancel→ cancelled     (any step can end in failed, with a reason)
"""

from __future__ import annotations

# The stages, lowest first (a module imports only those above it in this list):
#   base         the log's fields, the clock
#   schedule     when to ask again (learned from recent jobs); upstream_rate: the
#                shared token buckets
#   ending       fail, cancel, cancel upstream
#   archiving    download, probe, poster, store, settle; enqueue_archive wakes it
#   checking     a lost Ark create: look for the task before resending
#   submitting   send once, record the task id
#   polling      ask, and apply the answer
#   recovery     what dead workers dropped
#   dispatching  the fair order, the rate, slices of time; kick wakes dispatchers
#   workers      a worker's start, the periodic sweeper
# Each wakes the next step where that step lives (enqueue_archive in archiving, kick in
# dispatching), queued by function through services.queue: no module needs one above it.
from generations.services.pipeline.archiving import archive, enqueue_archive
from generations.services.pipeline.checking import check
from generations.services.pipeline.dispatching import (
    ROUND_PATIENCE_SECONDS,
    dispatch,
    dispatch_round,
    kick,
    listen_for_stop,
    requeue,
)
from generations.services.pipeline.ending import cancel, cancel_upstream, fail
from generations.services.pipeline.polling import poll
from generations.services.pipeline.recovery import recover, requeue_downloads
from generations.services.pipeline.submitting import MAX_SUBMIT_ATTEMPTS, request_body, submit
from generations.services.pipeline.workers import (
    SWEEPER,
    ensure_sweeper,
    resume_at_worker_start,
    sweep,
)

__all__ = [
    "MAX_SUBMIT_ATTEMPTS",
    "ROUND_PATIENCE_SECONDS",
    "SWEEPER",
    "archive",
    "cancel",
    "cancel_upstream",
    "check",
    "dispatch",
    "dispatch_round",
    "enqueue_archive",
    "ensure_sweeper",
    "fail",
    "kick",
    "listen_for_stop",
    "poll",
    "recover",
    "request_body",
    "requeue",
    "requeue_downloads",
    "resume_at_worker_start",
    "submit",
    "sweep",
]
