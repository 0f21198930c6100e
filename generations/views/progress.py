"""How far a running job is, in words: the upstream's own state when we have seen it,
and how long such jobs usually take (learned by the poll schedule, docs/pipeline.md)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from generations.models import Generation, Status
from generations.services.pipeline import schedule

# What the upstream said about a job it has, shown under the status while it runs.
UPSTREAM_NOTES = {
    "in_queue": _("waiting in the upstream's queue"),
    "queued": _("waiting in the upstream's queue"),
    "generating": _("the upstream is rendering it"),
    "running": _("the upstream is rendering it"),
}


def progress(generation: Generation) -> dict[str, Any]:
    """What the card says while the job runs: the upstream's own state when seen, and
    how long such jobs usually take (learned from the studio's recent jobs)."""
    if generation.is_terminal:
        return {
            "upstream_note": "",
            "expected_seconds": None,
            "late_seconds": None,
            "submitted_at": None,
        }
    note = ""
    if generation.status in (Status.SUBMITTED, Status.GENERATING):
        note = str(UPSTREAM_NOTES.get(generation.upstream_status, ""))
    expected = schedule.expectation(generation.mode, generation.seconds)
    return {
        "upstream_note": note,
        "expected_seconds": round(expected.median),
        # Past this, "taking longer than usual" is true: nine in ten such jobs were done.
        "late_seconds": round(expected.late) if expected.late is not None else None,
        "submitted_at": generation.submitted_at.isoformat() if generation.submitted_at else None,
    }
