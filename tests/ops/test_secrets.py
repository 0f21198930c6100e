"""The server's and the keys' secrets appear nowhere: pages, logs, errors, the database."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from generations.models import Credential
from tests.cast import add_credential, make_user
from tests.pipeline import FAST_PIPELINE, drive, make_job
from tests.web.routes import ALL, team_objects, url_of

pytestmark = pytest.mark.security

AK = "AKLTleakCanaryAccessKey7Q"


SK = "leak-canary-secret-9d2f71a6c0"


def test_the_secret_key_is_nowhere(cast, emulator, settings, caplog) -> None:
    """Save a key, use it for real, break it, and look for it in every page, every
    admin page, every error answer and every log line."""
    caplog.set_level(logging.DEBUG)
    settings.SANDBOX_ACCESS_KEY, settings.SANDBOX_SECRET_KEY = AK, SK
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    owner = cast.client("owner")
    owner.post(
        reverse("credential-create", args=["team-a"]),
        {
            "kind": "volcengine",
            "label": "canary",
            "endpoint": emulator.volcengine_url,
            "access_key": AK,
            "secret": SK,
            "max_qps": "",
        },
    )
    credential = Credential.objects.get(label="canary")
    owner.post(reverse("credential-test", args=["team-a", credential.pk]))
    (job,) = drive([make_job(cast.team, prompt="canary run").pk])
    assert job.status == "ready"
    broken = add_credential(
        cast.team,
        emulator.volcengine_url,
        access_key=AK,
        secret=SK + "x",
        default=False,
        label="broken",
    )
    answers = [owner.post(reverse("credential-test", args=["team-a", broken.pk]), follow=True)]
    objects = team_objects(cast.team)
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    for _name, route, _ in ALL:
        answers.append(owner.get(url_of(route, objects)))
    for url in (
        "/admin/generations/credential/",
        f"/admin/generations/credential/{credential.pk}/change/",
        f"/admin/generations/team/{cast.team.pk}/change/",
        "/admin/generations/generation/",
        f"/admin/generations/generation/{job.pk}/change/",
        "/admin/generations/ledgerentry/",
        "/admin/django_q/ormq/",
        "/admin/django_q/success/",
        "/no/such/page/",
    ):
        answers.append(operator.get(url))
    answers.append(Client(enforce_csrf_checks=True).post(reverse("login"), {}))
    texts = [b"".join(a.streaming_content) if a.streaming else a.content for a in answers]
    texts.append(caplog.text.encode())
    for text in texts:
        assert SK.encode() not in text and AK.encode() not in text
