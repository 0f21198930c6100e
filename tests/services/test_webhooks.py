"""Outgoing webhooks against a local receiver over real HTTP: signed as the README says,
queued through the real django-q2 broker, retried with back-off, given up, resent; and
held to the address rules."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from generations import crypto
from generations.models import (
    DeliveryStatus,
    Generation,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from generations.services import pipeline, webhooks
from generations.services.sharing import create_share
from tests.cast import add_credential
from tests.local_http import local_server
from tests.paths import ROOT
from tests.pipeline import FAST_PIPELINE, drive, make_job, mark_ready
from tests.queue import run_queued

DELIVER = webhooks.deliver
README = ROOT / "README.md"


def readme_verify():  # type: ignore[no-untyped-def]
    """The README's verification snippet, run as it is printed there."""
    text = README.read_text()
    block = re.search(r"```python\n(.*?def verify\(.*?)```", text, re.S)
    assert block, "the README lost its webhook verification snippet"
    scope: dict = {}  # type: ignore[type-arg]
    exec(block.group(1), scope)  # noqa: S102 - our own README
    return scope["verify"]


def _hook(team, url: str, events=None) -> tuple[Webhook, str]:  # type: ignore[no-untyped-def]
    return webhooks.add(
        team=team,
        url=url,
        events=events or [WebhookEvent.JOB_READY, WebhookEvent.JOB_FAILED],
        user=None,
    )


def _answers(*statuses: int):  # type: ignore[no-untyped-def]
    """A receiver answering these statuses in turn (the last one from then on)."""
    left = list(statuses)

    def answer(path: str):  # type: ignore[no-untyped-def]
        status = left.pop(0) if len(left) > 1 else left[0]
        return status, {"Content-Type": "text/plain"}, b"ok"

    return answer


def _make_due(delivery_id: int) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        next_attempt_at=timezone.now() - timedelta(seconds=5)
    )


# --- end to end ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_ready_job_is_posted_signed_as_the_readme_says(cast, emulator, settings) -> None:
    with local_server(_answers(200)) as receiver:
        for name, value in FAST_PIPELINE.items():
            setattr(settings, name, value)
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        _hook_row, secret = _hook(cast.team, f"{receiver.url}/hooks/jimeng")
        add_credential(cast.team, emulator.volcengine_url)
        job = make_job(cast.team, user=cast.member)
        drive([job.pk])
        assert run_queued(DELIVER) == ["HTTP 200"]

        (request,) = receiver.received
        assert (request.method, request.path) == ("POST", "/hooks/jimeng")
        headers = request.headers
        assert readme_verify()(
            secret, headers["X-Jimeng-Timestamp"], headers["X-Jimeng-Signature"], request.body
        )
        tampered = request.body.replace(b'"ready"', b'"failed"')
        assert not readme_verify()(
            secret, headers["X-Jimeng-Timestamp"], headers["X-Jimeng-Signature"], tampered
        )
        event = json.loads(request.body)
        assert event["event"] == "job.ready" and headers["X-Jimeng-Event"] == "job.ready"
        assert event["data"]["id"] == job.pk and event["data"]["status"] == "ready"
        assert event["data"]["video"]["width"] > 0
        delivery = WebhookDelivery.objects.get()
        assert headers["X-Jimeng-Delivery"] == str(delivery.pk)
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)


# --- events -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_failed_jobs_and_new_share_links_are_events(
    cast, django_capture_on_commit_callbacks
) -> None:
    add_credential(cast.team)
    everything = [WebhookEvent.JOB_READY, WebhookEvent.JOB_FAILED, WebhookEvent.SHARE_CREATED]
    _hook(cast.team, "https://hooks.example.com/all", everything)
    _hook(cast.team, "https://hooks.example.com/shares", ["share.created"])
    paused, _ = _hook(cast.team, "https://hooks.example.com/paused", everything)
    Webhook.objects.filter(pk=paused.pk).update(is_active=False)
    _hook(cast.other_team, "https://hooks.example.com/other-team", everything)

    with django_capture_on_commit_callbacks(execute=True):
        job = make_job(cast.team)
        assert pipeline.fail(job, "risk_text", "the prompt was refused")
        ready = mark_ready(make_job(cast.team))
        create_share(
            team=cast.team, user=cast.member, generation_ids=[ready.pk], title="t", expires_at=None
        )
    sent = {(d.webhook.url.rsplit("/", 1)[1], d.event) for d in WebhookDelivery.objects.all()}
    assert sent == {("all", "job.failed"), ("all", "share.created"), ("shares", "share.created")}
    failed = json.loads(WebhookDelivery.objects.get(event="job.failed").body)
    assert failed["data"]["failure"]["code"] == "risk_text"


@pytest.mark.django_db
def test_an_event_of_a_rolled_back_change_is_not_sent(cast) -> None:
    _hook(cast.team, "https://hooks.example.com/")
    add_credential(cast.team)
    job = make_job(cast.team)

    def fail_then_roll_back() -> None:
        with transaction.atomic():
            pipeline.fail(job, "x", "y")
            raise RuntimeError("the surrounding work failed")

    with pytest.raises(RuntimeError):
        fail_then_roll_back()
    assert not WebhookDelivery.objects.exists()
    assert Generation.objects.get(pk=job.pk).status == "queued"


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted(cast) -> None:
    hook, secret = _hook(cast.team, "https://hooks.example.com/")
    assert secret.startswith("whsec_") and len(secret) > 30
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM generations_webhook")
        assert secret not in repr(cursor.fetchall())
    assert crypto.decrypt(Webhook.objects.get().secret_encrypted) == secret == hook.secret


# --- retries ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_failures_back_off_and_the_sweeper_requeues_them(
    cast, settings, django_capture_on_commit_callbacks
) -> None:
    with local_server(_answers(500, 503, 200)) as receiver:
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        hook, secret = _hook(cast.team, f"{receiver.url}/in")
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.ping(hook)
        delivery = WebhookDelivery.objects.get()

        before = timezone.now()
        assert run_queued(DELIVER) == ["HTTP 500"]
        after = timezone.now()  # a Redis broker waits a second for more tasks in between
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        first_wait = timedelta(seconds=webhooks.BACKOFF[0])
        assert before + first_wait <= delivery.next_attempt_at <= after + first_wait

        # Not due yet: the sweeper leaves it, and a stray early task does not send it.
        assert pipeline.recover()["webhooks"] == 0
        assert webhooks.deliver(delivery.pk) == "not due"
        assert len(receiver.received) == 1

        _make_due(delivery.pk)
        with django_capture_on_commit_callbacks(execute=True):  # the sweeper's own commit
            assert pipeline.recover()["webhooks"] == 1
        assert run_queued(DELIVER) == ["HTTP 503"]
        delivery.refresh_from_db()
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert webhooks.BACKOFF[1] - 2 <= wait <= webhooks.BACKOFF[1] + 1

        _make_due(delivery.pk)
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.recover()
        assert run_queued(DELIVER) == ["HTTP 200"]
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("delivered", 3)
        bodies = {r.body for r in receiver.received}
        ids = {r.headers["X-Jimeng-Delivery"] for r in receiver.received}
        assert len(receiver.received) == 3 and len(bodies) == 1 and ids == {str(delivery.pk)}
        verify = readme_verify()
        for request in receiver.received:  # each attempt signed afresh
            headers = request.headers
            assert verify(
                secret, headers["X-Jimeng-Timestamp"], headers["X-Jimeng-Signature"], request.body
            )


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt_and_resend_starts_over(
    cast, settings, django_capture_on_commit_callbacks
) -> None:
    with local_server(_answers(502)) as receiver:
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        hook, _ = _hook(cast.team, f"{receiver.url}/in")
        delivery = webhooks.ping(hook)
        for _attempt in range(len(webhooks.BACKOFF) + 1):
            _make_due(delivery.pk)
            assert webhooks.deliver(delivery.pk) == "HTTP 502"
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("failed", len(webhooks.BACKOFF) + 1)
        assert delivery.next_attempt_at is None
        _make_due(delivery.pk)
        assert webhooks.deliver(delivery.pk) == "not due"  # failed for good

        client = cast.client("admin")
        page = client.get("/t/team-a/api/webhooks/").content.decode()
        assert f'data-testid="delivery-{delivery.pk}"' in page and "HTTP 502" in page
        with django_capture_on_commit_callbacks(execute=True):
            answer = client.post(f"/t/team-a/api/webhooks/deliveries/{delivery.pk}/resend")
        assert answer.status_code == 302
        again = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
        assert (again.status, again.body, again.attempts) == ("pending", delivery.body, 0)
        assert run_queued(DELIVER) == ["HTTP 502"]


@pytest.mark.django_db
def test_a_lost_task_is_found_by_the_sweeper(
    cast, settings, django_capture_on_commit_callbacks
) -> None:
    """The worker died between the commit and the queueing: nothing is lost."""
    with local_server(_answers(204)) as receiver:
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        hook, _ = _hook(cast.team, f"{receiver.url}/in")
        delivery = webhooks.ping(hook)  # its on-commit queueing never runs in this test
        assert run_queued(DELIVER) == []
        _make_due(delivery.pk)
        with django_capture_on_commit_callbacks(execute=True):  # the sweeper's own commit
            assert pipeline.recover()["webhooks"] == 1
        assert run_queued(DELIVER) == ["HTTP 204"]
        assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


# --- the address rules ---------------------------------------------------------------------


@pytest.mark.security
@pytest.mark.django_db
def test_a_webhook_cannot_reach_internal_addresses(cast) -> None:
    """A stored URL pointing inside (added before the rules, or by a name that resolves
    to 127.0.0.1) is refused when connecting; nothing reaches the internal service."""
    with local_server() as internal:
        for url in (f"{internal.url}/admin", f"http://localhost:{internal.port}/admin"):
            hook = Webhook.objects.create(
                team=cast.team, url=url, events=["job.ready"], secret_encrypted=crypto.encrypt("s")
            )
            delivery = webhooks.ping(hook)
            outcome = webhooks.deliver(delivery.pk)
            assert "HTTP" not in outcome, outcome
            delivery.refresh_from_db()
            assert delivery.status == "pending" and delivery.last_status is None
        assert internal.hits == []


@pytest.mark.security
@pytest.mark.django_db
def test_webhooks_do_not_follow_redirects_inside(cast, settings) -> None:
    with local_server() as internal:
        target = f"{internal.url}/secret"

        def redirect(path: str):  # type: ignore[no-untyped-def]
            return 302, {"Location": target}, b""

        with local_server(redirect) as receiver:
            settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
            hook, _ = _hook(cast.team, f"{receiver.url}/in")
            delivery = webhooks.ping(hook)
            assert webhooks.deliver(delivery.pk) == "HTTP 302"
        assert internal.hits == []
        delivery.refresh_from_db()
        assert delivery.status == "pending" and delivery.last_status == 302


@pytest.mark.security
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://user:pw@hooks.example.com/",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
    ],
)
def test_the_form_refuses_internal_and_odd_urls(cast, url) -> None:
    answer = cast.client("admin").post(
        "/t/team-a/api/webhooks/", {"url": url, "events": ["job.ready"]}
    )
    assert answer.status_code == 200
    assert 'data-field="url"' in answer.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_an_operator_may_trust_an_internal_receiver(cast, settings) -> None:
    settings.WEBHOOK_TRUSTED_URLS = ["http://10.0.0.5:9000/"]
    answer = cast.client("admin").post(
        "/t/team-a/api/webhooks/",
        {"url": "http://10.0.0.5:9000/jimeng", "events": ["job.ready"]},
        follow=True,
    )
    assert 'data-testid="new-secret"' in answer.content.decode()
    assert Webhook.objects.get().url == "http://10.0.0.5:9000/jimeng"


@pytest.mark.django_db
def test_two_workers_send_a_delivery_once(cast, settings) -> None:
    """The same task handed to two workers (django-q2 re-delivers unacknowledged tasks):
    the lease lets one of them send."""
    with local_server(_answers(200)) as receiver:
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        hook, _ = _hook(cast.team, f"{receiver.url}/in")
        delivery = webhooks.ping(hook)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            lease_until=timezone.now() + timedelta(seconds=30)
        )  # another worker holds it
        assert webhooks.deliver(delivery.pk) == "not due"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(lease_until=None)
        assert webhooks.deliver(delivery.pk) == "HTTP 200"
        assert webhooks.deliver(delivery.pk) == "not due"
        time.sleep(0.05)
        assert len(receiver.received) == 1


@pytest.mark.security
@pytest.mark.django_db
def test_the_delivery_log_cannot_tell_an_internal_name_from_one_that_does_not_exist(cast) -> None:
    """An admin could map internal host names by reading which ones "resolve to an
    address the studio may not connect to" and which ones fail to resolve."""
    errors = []
    for url in ("http://localhost:9/hook", "http://no-such-host.invalid/hook"):
        hook = Webhook.objects.create(
            team=cast.team, url=url, events=["job.ready"], secret_encrypted=crypto.encrypt("s")
        )
        delivery = webhooks.ping(hook)
        webhooks.deliver(delivery.pk)
        delivery.refresh_from_db()
        errors.append(delivery.last_error)
    assert errors[0] == errors[1] == webhooks.UNREACHABLE
