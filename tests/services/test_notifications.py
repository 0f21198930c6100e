"""The bell and the email: a member hears when their job is ready or failed, once,
in the studio and (if they asked) by email; opening the list reads it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generations.models import Membership, Notification, NotificationKind, Status
from generations.services import notifications, pipeline
from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE, drive, make_job
from tests.queue import run_queued

pytestmark = pytest.mark.django_db
EMAIL = notifications.email


@pytest.fixture
def studio(cast, emulator, settings):  # type: ignore[no-untyped-def]
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    add_credential(cast.team, emulator.volcengine_url)
    return cast


def _bell(page: str) -> str:
    tag = page.split("data-bell-count", 1)[1].split("</span>", 1)[0]
    return ("hidden " if " hidden" in tag.split(">", 1)[0] else "") + tag.split(">", 1)[1]


def test_a_ready_job_rings_the_authors_bell_once(
    studio, django_capture_on_commit_callbacks
) -> None:
    job = make_job(studio.team, prompt="a lantern festival", user=studio.member)
    client = studio.client("member")
    assert _bell(client.get(reverse("studio", args=["team-a"])).content.decode()) == "hidden 0"
    with django_capture_on_commit_callbacks(execute=True):
        (job,) = drive([job.pk])
    assert job.status == Status.READY
    (note,) = Notification.objects.all()
    assert (note.user, note.kind, note.generation_id) == (studio.member, "job.ready", job.pk)
    assert notifications.job_finished(job.pk, NotificationKind.JOB_READY) is None  # once

    assert _bell(client.get(reverse("gallery", args=["team-a"])).content.decode()) == "1"
    status = client.get(reverse("jobs-status", args=["team-a"]), {"ids": job.pk}).json()
    assert status["unread"] == 1  # the page's script keeps the bell up to date
    other = studio.client("admin").get(reverse("studio", args=["team-a"])).content.decode()
    assert _bell(other) == "hidden 0"  # only the author hears

    listing = client.get(reverse("notifications")).content.decode()
    assert 'class="unread" data-notification="job.ready"' in listing
    assert f"/t/team-a/jobs/{job.pk}/" in listing and "a lantern festival" in listing
    assert _bell(client.get(reverse("notifications")).content.decode()) == "hidden 0"
    assert run_queued(EMAIL) == []  # no email unless asked


def test_a_failed_job_is_told_too(studio, django_capture_on_commit_callbacks) -> None:
    job = make_job(studio.team, user=studio.member)
    pipeline.fail(job, "50413", "text risk")
    (note,) = Notification.objects.all()
    assert note.kind == "job.failed"


def test_email_when_asked_per_team(studio, mailoutbox, django_capture_on_commit_callbacks) -> None:
    client = studio.client("member")
    response = client.post(reverse("notification-email"), {"teams": [studio.team.pk]})
    assert response.status_code == 302
    membership = Membership.objects.get(team=studio.team, user=studio.member)
    assert membership.notify_by_email is True
    page = client.get(reverse("notifications")).content.decode()
    assert 'data-testid="email-team-a" checked' in page

    job = make_job(studio.team, prompt="a lantern festival", user=studio.member)
    with django_capture_on_commit_callbacks(execute=True):
        drive([job.pk])
    assert run_queued(EMAIL) == ["sent"]
    note = Notification.objects.get(generation=job)
    assert notifications.email(note.pk) == "sent already"  # a task run twice mails once
    (mail,) = mailoutbox
    assert mail.to == [studio.member.email] and mail.subject == f"Job #{job.pk} is ready (Team A)"
    assert f"https://studio.example.com/t/team-a/jobs/{job.pk}/" in mail.body

    client.post(reverse("notification-email"), {})  # all off again
    failed = make_job(studio.team, user=studio.member)
    with django_capture_on_commit_callbacks(execute=True):
        pipeline.fail(failed, "50413", "text risk")
    assert run_queued(EMAIL) == [] and len(mailoutbox) == 1


def test_nobody_is_told_about_a_job_without_an_author_or_after_leaving(studio) -> None:
    nobody = make_job(studio.team)
    pipeline.fail(nobody, "x", "")
    gone = make_job(studio.team, user=studio.member)
    Membership.objects.filter(user=studio.member).delete()
    pipeline.fail(gone, "x", "")
    assert not Notification.objects.exists()
