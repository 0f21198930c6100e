"""Telling members their jobs finished: a notification for the bell, and an email for
those who asked for one (per team, on the notifications page).

`job_finished` runs in the transaction that ends the job, so the notification exists
exactly when the job's end does; the email goes out from a task after the commit, so
a slow mail server never holds up the pipeline, and a failed send is only logged.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.labels import mode_label
from generations.models import Generation, Membership, Notification, NotificationKind
from generations.services.queue import after_commit

log = logging.getLogger(__name__)


def job_finished(generation_id: int, kind: str) -> Notification | None:
    """Note for the job's author that it is ready or failed (once), if they are still
    in the team; queue their email if they want one."""
    job = Generation.objects.select_related("created_by").get(pk=generation_id)
    if job.created_by_id is None:
        return None
    membership = Membership.objects.filter(team_id=job.team_id, user_id=job.created_by_id).first()
    if membership is None:
        return None  # left the team since
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user_id=job.created_by_id, team_id=job.team_id, generation=job, kind=kind
            )
    except IntegrityError:
        return None  # told already
    if membership.notify_by_email and job.created_by and job.created_by.email:
        after_commit(email, notification.pk, name=f"notify-{notification.pk}")
    return notification


def unread(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def mark_read(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def _job_url(job: Generation) -> str:
    path = reverse("job-detail", args=[job.team.slug, job.pk])
    return f"{settings.PUBLIC_BASE_URL}{path}" if settings.PUBLIC_BASE_URL else path


def email(notification_id: int) -> str:
    """Send one notification's email; the task's entry point."""
    notification = (
        Notification.objects.select_related("user", "generation", "generation__team")
        .filter(pk=notification_id)
        .first()
    )
    if notification is None or notification.generation is None or not notification.user.email:
        return "nothing to send"
    # Once: a task run twice (a worker lost after sending, say) finds it claimed.
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        return "sent already"
    job = notification.generation
    values = {"id": job.pk, "team": job.team.name, "mode": mode_label(job.mode)}
    if notification.kind == NotificationKind.JOB_READY:
        subject = _("Job #%(id)s is ready (%(team)s)") % values
        opening = _("Your video #%(id)s (%(mode)s) is ready in %(team)s.") % values
    else:
        subject = _("Job #%(id)s failed (%(team)s)") % values
        opening = _("Your job #%(id)s (%(mode)s) failed in %(team)s; nothing was charged.") % values
    body = "\n\n".join(
        [
            opening,
            job.prompt[:300],
            _job_url(job),
            _("You get these emails because you asked for them on the notifications page."),
        ]
    )
    try:
        send_mail(subject, body, None, [notification.user.email])
    except OSError as error:
        Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
        log.warning("notification email %s not sent: %s", notification_id, error)
        return "not sent"
    return "sent"
