"""Ark calls the studio back when a task changes (docs/upstream/ark.md, "Callbacks").

Each job is sent with its own URL, `PUBLIC_BASE_URL/hooks/ark/<token>/`, the token kept
only as a hash. The body of a callback is not signed, so it is never believed: a
callback that reports an end only makes the job due at once, and the dispatcher's GET
decides (within the shared rate). A "running" callback only changes what the job
card shows. Without a callback in time, polling carries on as usual.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from generations.forms.values import NotJson, strict_json
from generations.models import POLLED, Generation, Status


def new_token() -> str:
    return secrets.token_urlsafe(24) if settings.PUBLIC_BASE_URL else ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def url(token: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("ark-callback", args=[token])


def _status_word(body: bytes) -> str:
    try:
        payload = strict_json(body)
    except NotJson:
        return ""
    word = payload.get("status") if isinstance(payload, dict) else None
    return word if isinstance(word, str) else ""


def received(token: str, body: bytes) -> bool | None:
    """Take a callback: None when the token names no job, True when the job is now due
    (the caller wakes the dispatchers), False when there was nothing to do."""
    job = Generation.objects.filter(callback_token_hash=token_hash(token)).first()
    if job is None:
        return None
    mine = Generation.objects.filter(pk=job.pk)
    word = _status_word(body)
    if word == "queued":
        return False
    if word == "running":
        mine.filter(status=Status.SUBMITTED).update(
            status=Status.GENERATING, upstream_status="generating"
        )
        return False
    now = timezone.now()
    return bool(
        mine.filter(status__in=POLLED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(next_action_at=now)
    )
