"""What every stage of the pipeline shares: the log, its fields, the clock."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from generations.models import (
    Generation,
)

log = logging.getLogger("generations.pipeline")  # the name operators filter on


def context(generation: Generation, **extra: Any) -> dict[str, Any]:
    """Structured fields for every pipeline log line (see jimeng_web.logs)."""
    return {
        "job": generation.pk,
        "team": generation.team_id,
        "request_id": generation.upstream_request_id or None,
        **extra,
    }


def now() -> datetime:
    return timezone.now()


def later(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)
