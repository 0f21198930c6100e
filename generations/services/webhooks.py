"""Outgoing webhooks: a team's URLs get signed POSTs when its videos are ready or fail
and when it shares (docs/api.md, "Webhooks").

Each event becomes a delivery row per matching webhook, in the transaction that caused
it; the row is sent by a django-q2 task queued on commit, and retried with back-off
(`recover()` in the pipeline re-queues due ones, so a lost task loses nothing). The
body is signed with the webhook's secret:

    X-Jimeng-Timestamp: 1732260000
    X-Jimeng-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

Webhook URLs obey the address rules: any host, but only on public addresses (or an
origin the operator lists in WEBHOOK_TRUSTED_URLS), and no redirects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from generations import crypto
from generations.documents import job_document
from generations.jimeng import transport
from generations.jimeng.addresses import OFFICIAL_API_HOSTS, AddressRefused, AddressRules, Place
from generations.models import (
    DeliveryStatus,
    Generation,
    Team,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from generations.services.queue import after_commit

log = logging.getLogger("generations.services.webhooks")

TIMESTAMP_HEADER = "X-Jimeng-Timestamp"
SIGNATURE_HEADER = "X-Jimeng-Signature"
EVENT_HEADER = "X-Jimeng-Event"
DELIVERY_HEADER = "X-Jimeng-Delivery"
# Seconds to wait before each further attempt: 7 attempts over about 9 hours. A retry
# is queued by the sweeper, which runs every minute, so short waits round up to it.
BACKOFF = (30, 120, 600, 1800, 7200, 21600)
TIMEOUT = 10.0
LEASE_SECONDS = 30


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def rules() -> AddressRules:
    """Any host on a public address; the operator's trusted origins at any address."""
    trusted = tuple(Place.origin(url) for url in settings.WEBHOOK_TRUSTED_URLS)
    return AddressRules(api_hosts=OFFICIAL_API_HOSTS, trusted=trusted)


def check_url(url: str) -> None:
    """Raise AddressRefused unless `url` may receive webhooks (checked again on sending,
    on the addresses its name resolves to)."""
    rules().check_public_url(url)


Data = dict[str, Any] | Callable[[], dict[str, Any]]


def add(*, team: Team, url: str, events: list[str], user: Any) -> tuple[Webhook, str]:
    """A new webhook and its secret, which is shown once and kept encrypted."""
    secret = new_secret()
    hook = Webhook.objects.create(
        team=team,
        url=url,
        events=sorted(set(events)),
        secret_encrypted=crypto.encrypt(secret),
        created_by=user,
    )
    return hook, secret


def _body(event: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {"event": event, "created_at": timezone.now().isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def ping(hook: Webhook) -> WebhookDelivery:
    """A test event for one webhook, to check the receiver and its signature check."""
    delivery = WebhookDelivery.objects.create(
        webhook=hook,
        event=WebhookEvent.PING,
        body=_body(WebhookEvent.PING, {"webhook": hook.pk, "team": hook.team.slug}),
        next_attempt_at=timezone.now(),
    )
    enqueue(delivery.pk)
    return delivery


def emit(team: Team | int, event: str, data: Data) -> list[int]:
    """Record the event for each of the team's webhooks that wants it; send on commit.
    `data` may be a function, called only when some webhook wants the event."""
    team_id = team if isinstance(team, int) else team.pk
    hooks = [
        hook
        for hook in Webhook.objects.filter(team_id=team_id, is_active=True)
        if event in hook.events
    ]
    if not hooks:
        return []
    body = _body(event, data() if callable(data) else data)
    ids = [
        WebhookDelivery.objects.create(
            webhook=hook, event=event, body=body, next_attempt_at=timezone.now()
        ).pk
        for hook in hooks
    ]

    for delivery_id in ids:
        enqueue(delivery_id)
    return ids


def job_event(generation_id: int, event: str) -> None:
    """job.ready or job.failed, with the job as the API shows it."""
    job = Generation.objects.select_related("team").get(pk=generation_id)
    emit(job.team_id, event, lambda: job_document(job))


def enqueue(delivery_id: int) -> None:
    """Send one delivery from a worker, once the transaction that made it commits."""
    after_commit(deliver, delivery_id, name=f"hook-{delivery_id}")


def resend(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the same event again, as a new delivery beside the old one."""
    copy = WebhookDelivery.objects.create(
        webhook=delivery.webhook,
        event=delivery.event,
        body=delivery.body,
        next_attempt_at=timezone.now(),
    )
    enqueue(copy.pk)
    return copy


def deliver(delivery_id: int) -> str:
    """One attempt at one delivery, when it is due; safe to run twice (a lease lets one
    sender through, and a task run again early waits for its turn)."""
    now = timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(lease_until=now + timedelta(seconds=LEASE_SECONDS), attempts=F("attempts") + 1)
    )
    if not claimed:
        return "not due"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    status, error = _post(delivery)
    _record(delivery, status, error)
    return f"HTTP {status}" if status else error


UNREACHABLE = "could not connect to the receiver (no public address of its host answered)"


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    body = delivery.body.encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: signature(delivery.webhook.secret, stamp, body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    request = transport.HttpRequest(
        "POST",
        delivery.webhook.url,
        headers,
        body,
        connect_timeout=5.0,
        read_timeout=TIMEOUT,
        rules=rules(),
    )
    try:
        return transport.send(request, any_host=True).status, ""
    except transport.TransportFailure as failure:
        if failure.reached_service:
            return None, failure.message[:300]
        # A name that does not resolve, one that resolves to an internal address, a
        # refused or timed-out connection: one message, so that the log cannot tell an
        # admin which internal names exist (docs/security.md).
        return None, UNREACHABLE
    except AddressRefused as refusal:
        return None, str(refusal)[:300]


def _record(delivery: WebhookDelivery, status: int | None, error: str) -> None:
    rows = WebhookDelivery.objects.filter(pk=delivery.pk)
    if status is not None and 200 <= status < 300:
        rows.update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=timezone.now(),
            last_status=status,
            last_error="",
            lease_until=None,
            next_attempt_at=None,
        )
        return
    attempts = delivery.attempts  # this attempt included
    final = attempts > len(BACKOFF)
    wait = None if final else timedelta(seconds=BACKOFF[attempts - 1])
    rows.update(
        status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
        last_status=status,
        last_error=error or f"HTTP {status}",
        lease_until=None,
        next_attempt_at=None if wait is None else timezone.now() + wait,
    )
    log.info("webhook delivery %s failed (%s)", delivery.pk, error or f"HTTP {status}")


def requeue_due() -> int:
    """Queue the deliveries whose next attempt is due (called by the pipeline's recovery)."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now - timedelta(seconds=2)
    ).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    ids = list(due.values_list("pk", flat=True)[:200])
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)
